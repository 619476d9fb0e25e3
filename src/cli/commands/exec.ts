import path from 'node:path'
import { Option } from 'commander'
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
} from '../options.js'
import { resolveNetworkPolicy } from '../../session/network.js'
import { boundedForward, readerBackpressure } from '../bounded-output.js'
import { warnDegraded, warnOpenNetwork } from '../warnings.js'
import { openSessionContext, sessionProjectDir } from '../session-context.js'
import type { RegisterCommand } from './index.js'

interface ExecOptions extends CommonOptions, NetworkOptions {
  session?: string
  project?: string
  timeout?: number
  quiet?: boolean
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
    .argument('<command...>', 'the command and its arguments (put them after --)')
    .option('-s, --session <id>', 'run in this existing session instead of a new one')
    .option('-p, --project <dir>', 'the project to copy into a new session', '.')
    .addOption(
      new Option('-t, --timeout <seconds>', 'kill the command after this many seconds').argParser(
        parsePositive,
      ),
    )
    .option('-q, --quiet', "print only the command's own output")
    .action(async (argv: string[], options: ExecOptions) => {
      // Configuration follows the project: -p DIR's own file, or the session's project's.
      const projectDir =
        options.session === undefined
          ? path.resolve(ctx.cwd, options.project ?? '.')
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
      const out = boundedForward(ctx.stdout)
      const err = boundedForward(ctx.stderr)
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
        bus: createBus<EventMap>({ backlog: 0 }),
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
      setStatus(result.timedOut ? 124 : result.aborted ? 130 : (result.exitCode ?? 1))
    })
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
