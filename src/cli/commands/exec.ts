import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { Option } from 'commander'
import { selectBackend } from '../../sandbox/index.js'
import { SafeCoderError } from '../../shared/errors.js'
import { formatBytes, formatDuration } from '../../shared/format.js'
import { createId } from '../../shared/ids.js'
import { copyIn } from '../../workspace/copy-in.js'
import { println } from '../context.js'
import { loadCommandConfig, withCommonOptions, type CommonOptions } from '../options.js'
import { stateDir } from '../state-dir.js'
import type { RegisterCommand } from './index.js'

interface ExecOptions extends CommonOptions {
  project?: string
  timeout?: number
  rm?: boolean
  quiet?: boolean
}

/**
 * `safe-coder exec -- CMD…`: copy the project into a fresh sandbox and run one command there.
 * The project itself is never touched; the sandbox's copy is kept for inspection.
 */
export const registerExec: RegisterCommand = (program, ctx, setStatus) => {
  withCommonOptions(program.command('exec'))
    .description(
      'run a command in a fresh sandbox holding a copy of the project (the project is never modified)',
    )
    .argument('<command...>', 'the command and its arguments (put them after --)')
    .option('-p, --project <dir>', 'the project to copy in', '.')
    .addOption(
      new Option('-t, --timeout <seconds>', 'kill the command after this many seconds').argParser(
        parsePositive,
      ),
    )
    .option('--rm', 'delete the sandbox copy afterwards instead of keeping it')
    .option('-q, --quiet', "print only the command's own output")
    .action(async (argv: string[], options: ExecOptions) => {
      const { config } = await loadCommandConfig(ctx, options)
      const projectDir = path.resolve(ctx.cwd, options.project ?? '.')
      const note = (line: string): void => {
        if (options.quiet !== true) println(ctx.stderr, `safe-coder: ${line}`)
      }
      const { backend, probe } = await selectBackend(config, ctx.env, ctx.signal)
      const sessionId = createId('s')
      const workDir = path.join(stateDir(ctx.env), 'sessions', sessionId, 'work')
      await mkdir(path.dirname(workDir), { recursive: true, mode: 0o700 })
      const copied = await copyIn({
        projectDir,
        mirrorDir: workDir,
        exclude: config.workspace.exclude,
        maxFileBytes: config.workspace.max_file_mb * 1024 * 1024,
        signal: ctx.signal,
      })
      note(
        `copied ${copied.files} files (${formatBytes(copied.bytes)}) in ${formatDuration(copied.durationMs)}${copied.skipped.length > 0 ? `, skipped ${copied.skipped.length}` : ''}`,
      )
      for (const s of copied.skipped) note(`  skipped ${s.path}: ${s.reason}`)
      const sandbox = await backend.create(
        { sessionId, mirrorDir: workDir, projectPath: projectDir },
        ctx.signal,
      )
      note(`${probe.kind} sandbox ${sandbox.id.slice(0, 12)} ready`)
      try {
        const result = await sandbox.exec(
          {
            command: argv,
            ...(options.timeout === undefined ? {} : { timeoutMs: options.timeout * 1000 }),
          },
          {
            signal: ctx.signal,
            onStdout: (chunk) => ctx.stdout.write(chunk),
            onStderr: (chunk) => ctx.stderr.write(chunk),
          },
        )
        const how = result.timedOut
          ? 'timed out'
          : result.aborted
            ? 'cancelled'
            : `exit ${result.exitCode ?? '?'}`
        note(`${how} after ${formatDuration(result.durationMs)}`)
        setStatus(result.timedOut ? 124 : result.aborted ? 130 : (result.exitCode ?? 1))
      } finally {
        await sandbox.dispose()
        if (options.rm === true) await rm(path.dirname(workDir), { recursive: true, force: true })
        else note(`the sandbox's copy is kept at ${workDir} (your project was not modified)`)
      }
    })
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
