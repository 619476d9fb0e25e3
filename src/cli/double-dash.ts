import type { Command } from 'commander'
import { SafeCoderError } from '../shared/errors.js'

/**
 * Splits a command's operands at a literal `--`, as in `diff ID COMMIT -- PATH…`. Commander
 * drops the `--` itself, so the split is read from the raw arguments of the root command.
 */
export function splitAtDoubleDash(
  command: Command,
  operands: string[],
): { before: string[]; after: string[] } {
  const args = rawArgsOf(command)
  const dash = args.indexOf('--')
  if (dash < 0) return { before: operands, after: [] }
  const after = args.slice(dash + 1)
  return { before: operands.slice(0, Math.max(0, operands.length - after.length)), after }
}

/** Whether the raw arguments hold a literal `--`. */
export function hasDoubleDash(command: Command): boolean {
  return rawArgsOf(command).includes('--')
}

/**
 * The command line given to `exec`: it must follow `--`, so that its own options (`ls -la`) are
 * never read as ours. `before` are the operands before `--`, `after` those after it, `dashed`
 * whether there was a `--` at all.
 */
export function execCommandLine(split: {
  before: string[]
  after: string[]
  dashed: boolean
}): string[] {
  const { before, after, dashed } = split
  if (!dashed) {
    const shown = before.map(quoteArg).join(' ')
    throw new SafeCoderError('USAGE', `put the command after \`--\`: safe-coder exec -- ${shown}`, {
      hint: `Everything after \`--\` is the command, so its own options never mix with safe-coder's.`,
    })
  }
  const stray = before[0]
  if (stray !== undefined) {
    const what = stray.startsWith('-') ? `unknown option ${stray}` : `unexpected ${quoteArg(stray)}`
    throw new SafeCoderError('USAGE', `exec: ${what} before \`--\`.`, {
      hint: `Options of safe-coder exec go before \`--\`, the command after it; see safe-coder exec --help.`,
    })
  }
  if (after.length === 0) {
    throw new SafeCoderError('USAGE', `exec: no command after \`--\`.`, {
      hint: `For example: safe-coder exec -- ls -la`,
    })
  }
  return after
}

/** An argument as a shell would need it typed back. */
export function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

function rawArgsOf(command: Command): string[] {
  let root: Command = command
  while (root.parent !== null) root = root.parent
  const raw = (root as unknown as { rawArgs?: unknown }).rawArgs
  return Array.isArray(raw) ? raw.filter((a): a is string => typeof a === 'string') : []
}
