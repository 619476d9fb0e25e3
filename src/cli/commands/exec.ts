import path from 'node:path'
import { Option, type Command } from 'commander'
import { createBus } from '../../bus/bus.js'
import type { EventMap } from '../../bus/events.js'
import { selectBackend, selectSessionBackend } from '../../sandbox/index.js'
import { createWorkspaceSession, execInSession } from '../../session/workspace-session.js'
import { SafeCoderError } from '../../shared/errors.js'
import { formatBytes, formatDuration } from '../../shared/format.js'
import { isTerminal, println } from '../context.js'
import {
  withCommonOptions,
  withNetworkOptions,
  type CommonOptions,
  type NetworkOptions,
  pathOption,
} from '../options.js'
import { resolveNetworkPolicy } from '../../session/network.js'
import { boundedForward, readerBackpressure } from '../bounded-output.js'
import { warnDegraded, warnOpenNetwork } from '../warnings.js'
import { openSessionContext, sessionProjectDir } from '../session-context.js'
import { execCommandLine, hasDoubleDash, splitAtDoubleDash } from '../double-dash.js'
import type { RegisterCommand } from './index.js'

interface ExecOptions extends CommonOptions, NetworkOptions {
  session?: string
  path?: string
  /** The old name of --path, kept hidden so scripts that use it go on working. */
  project?: string
  timeout?: number
  quiet?: boolean
  json?: boolean
}

/**
 * `safe-coder exec -- CMD…`: run a command in a session's sandbox (a new session holding a copy
 * of the project, or `--session ID`), commit what it changed, exit with its status. The
 * project itself is never touched; `safe-coder sync` brings the work back after review.
 */
export const registerExec: RegisterCommand = (program, ctx, setStatus) => {
  withNetworkOptions(withCommonOptions(program.command('exec')))
    .description(
      'run a command in a session sandbox and record what it changed (the project is not modified)',
    )
    .argument('<command...>', 'the command and its arguments, after --')
    // `exec ls -la` must reach the action to be told about `--`, not fail on "unknown option".
    .allowUnknownOption()
    .option('-s, --session <id>', 'run in this existing session instead of a new one')
    .option('-p, --path <dir>', 'the project to copy into a new session (default: .)')
    .addOption(new Option('--project <dir>').hideHelp())
    .addOption(
      new Option('-t, --timeout <seconds>', 'kill the command after this many seconds').argParser(
        parsePositive,
      ),
    )
    .option('-q, --quiet', "print only the command's own output")
    .option(
      '--json',
      "print the outcome as one JSON object on stdout (the command's stdout then goes to stderr)",
    )
    .action(async (operands: string[], options: ExecOptions, command: Command) => {
      const split = splitAtDoubleDash(command, operands)
      const argv = execCommandLine({ ...split, dashed: hasDoubleDash(command) })
      const projectOption = pathOption(options)
      // Configuration follows the project: -p DIR's own file, or the session's project's.
      const projectDir =
        options.session === undefined
          ? path.resolve(ctx.cwd, projectOption ?? '.')
          : await sessionProjectDir(ctx, options.session)
      const session = await openSessionContext(ctx, options, {}, [projectDir])
      const note = (line: string): void => {
        if (options.quiet !== true) println(ctx.stderr, `safe-coder: ${line}`)
      }
      const network = resolveNetworkPolicy(session.config.network, {
        ...(options.network === undefined ? {} : { mode: options.network }),
        ...(options.allowHost === undefined ? {} : { allowHosts: options.allowHost }),
      })
      warnOpenNetwork(ctx, network)
      // An existing session runs where it was created; a new one where the config says.
      const { backend, probe } =
        options.session === undefined
          ? await selectBackend(session.config, ctx.env, ctx.signal)
          : await selectSessionBackend(
              options.session,
              await session.store.read(options.session),
              session.config,
              { env: ctx.env, signal: ctx.signal, requested: options.backend },
            )
      warnDegraded(ctx, probe)
      let id = options.session
      if (id === undefined) {
        const created = await createWorkspaceSession({
          store: session.store,
          projectDir,
          backend,
          tracking: session.tracking,
          signal: ctx.signal,
        })
        id = created.record.id
        const { copied } = created
        note(
          `session ${id}: copied ${copied.files} files (${formatBytes(copied.bytes)}) in ${formatDuration(copied.durationMs)}${copied.skipped.length > 0 ? `, skipped ${copied.skipped.length}` : ''}`,
        )
        for (const s of copied.skipped) note(`  skipped ${s.path}: ${s.reason}`)
      }
      // With --json, stdout holds the JSON alone: the command's output goes to stderr.
      const out = boundedForward(options.json === true ? ctx.stderr : ctx.stdout)
      const err = boundedForward(ctx.stderr)
      const bus = createBus<EventMap>({ backlog: 0 })
      let changed: string[] = []
      bus.on('git.committed', (e) => {
        changed = e.changed.map((c) => c.path)
      })
      // Piped or redirected input reaches the command, as with `docker exec -i`; a terminal's
      // does not (the command would wait on keys the user does not know it wants).
      const input = ctx.stdin ?? process.stdin
      const stdin = isTerminal(input) ? undefined : bytesOf(input)
      const { result, commit, skipped, diskFull } = await execInSession({
        store: session.store,
        id,
        backend,
        command: argv,
        ...(stdin === undefined ? {} : { stdin }),
        ...(options.timeout === undefined ? {} : { timeoutMs: options.timeout * 1000 }),
        tracking: session.tracking,
        io: {
          onStdout: out.write,
          onStderr: err.write,
          waitForReader: readerBackpressure([ctx.stdout, ctx.stderr]),
        },
        signal: ctx.signal,
        // Dashboards in other processes watch the command through the session's event socket.
        bus,
        network,
        onProgress: (step, detail) => {
          note(`${step}${detail === undefined ? '' : `: ${detail}`}`)
        },
      }).finally(() => {
        // The command is over: input it did not read must not keep the CLI waiting on it.
        if (stdin !== undefined) stopReading(input)
      })
      const how = result.timedOut
        ? 'timed out'
        : result.aborted
          ? 'cancelled'
          : `exit ${result.exitCode ?? '?'}`
      const recorded =
        commit === undefined
          ? 'no changes'
          : `${commit.changed} changed file${commit.changed === 1 ? '' : 's'} recorded as ${commit.id.slice(0, 12)}`
      note(
        `${how} after ${formatDuration(result.durationMs)} in ${probe.kind} sandbox; ${recorded}`,
      )
      for (const s of skipped) note(`  not recorded: ${JSON.stringify(s.path)} (${s.reason})`)
      if (diskFull !== undefined) note(`DISK_FULL: ${diskFull}`)
      const unshown = out.dropped() + err.dropped()
      if (unshown > 0)
        note(
          `${formatBytes(unshown)} of the command's output was not shown: its reader fell more than 16 MiB behind or closed the pipe`,
        )
      note(`session ${id} (review: safe-coder diff ${id}; apply: safe-coder sync ${id})`)
      const status = result.timedOut ? 124 : result.aborted ? 130 : (result.exitCode ?? 1)
      if (options.json === true) {
        const outcome: ExecOutcome = {
          version: 1,
          session: id,
          commit: commit?.id ?? null,
          exitCode: result.exitCode ?? null,
          timedOut: result.timedOut,
          changed,
          durationMs: Math.round(result.durationMs),
        }
        println(ctx.stdout, JSON.stringify(outcome))
      }
      setStatus(status)
    })
}

/** `exec --json`: what a script needs to go on (review, sync, or discard the session). */
export interface ExecOutcome {
  /** Bumped when a field changes meaning or goes away. */
  version: 1
  session: string
  /** The commit recording the command's changes; null when it changed nothing. */
  commit: string | null
  /** The command's exit status; null when it was killed (timeout, cancel) before exiting. */
  exitCode: number | null
  timedOut: boolean
  /** Paths the command changed, relative to the project. */
  changed: string[]
  durationMs: number
}

/** The input as bytes (a stream switched to text by someone else is encoded back). */
async function* bytesOf(input: NodeJS.ReadableStream): AsyncGenerator<Uint8Array> {
  for await (const chunk of input) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk
}

function stopReading(input: NodeJS.ReadableStream): void {
  const stream = input as NodeJS.ReadableStream & { destroy?: () => void }
  if (typeof stream.destroy === 'function') stream.destroy()
  else input.pause()
}

function parsePositive(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) {
    throw new SafeCoderError(
      'USAGE',
      `--timeout must be a positive number of seconds, got ${JSON.stringify(value)}.`,
      {
        hint: 'For example: --timeout 30',
      },
    )
  }
  return n
}
