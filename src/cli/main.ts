import { Command, CommanderError } from 'commander'
import { visibleText } from '../git/diff-escape.js'
import { toErrorInfo } from '../shared/errors.js'
import { VERSION } from '../shared/version.js'
import type { CliContext } from './context.js'
import { exitCodes } from './exit-codes.js'
import { registerCommands, type SetStatus } from './commands/index.js'

/**
 * The command tree; each command's action reports its exit status to `setStatus`. With `argv`,
 * only the module of the command it names is loaded (the rest are listed for help); without,
 * the whole tree.
 */
export async function createProgram(
  ctx: CliContext,
  setStatus: SetStatus,
  argv?: readonly string[],
): Promise<Command> {
  const program = new Command('safe-coder')
    .description('An AI coding assistant whose agent only ever runs inside an isolated sandbox.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride()
  await registerCommands(program, ctx, setStatus, argv)
  return program
}

/** The composition root: argv → command → exit status. The only place that exits. */
export async function main(argv: string[], ctx: CliContext): Promise<number> {
  let status = 0
  try {
    const program = await createProgram(
      ctx,
      (code) => {
        status = code
      },
      argv,
    )
    await program.parseAsync(argv, { from: 'user' })
    return status
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; they exit 0.
      return error.exitCode === 0 ? 0 : exitCodes.USAGE
    }
    return reportError(error, ctx)
  }
}

/** Prints an error the way every command does: what failed, then how to fix it. */
export function reportError(error: unknown, ctx: CliContext): number {
  const info = toErrorInfo(error)
  // Messages quote paths and text from the sandbox: control characters are shown, not sent.
  const shown = (text: string): string => text.split('\n').map(visibleText).join('\n')
  ctx.stderr.write(`safe-coder: ${shown(info.message)}\n`)
  if (info.hint !== undefined) ctx.stderr.write(`  hint: ${shown(info.hint)}\n`)
  if (info.code === 'INTERNAL') {
    ctx.stderr.write(
      '  This is a bug in Safe Coder; please report it with the output of SAFE_CODER_DEBUG=1.\n',
    )
    if (ctx.env.SAFE_CODER_DEBUG === '1' && error instanceof Error)
      ctx.stderr.write(`${error.stack ?? ''}\n`)
  }
  return exitCodes[info.code]
}
