import type { Command } from 'commander'

/**
 * Splits a command's operands at a literal `--`, as in `diff ID COMMIT -- PATH…`. Commander
 * drops the `--` itself, so the split is read from the raw arguments of the root command.
 */
export function splitAtDoubleDash(
  command: Command,
  operands: string[],
): { before: string[]; after: string[] } {
  let root: Command = command
  while (root.parent !== null) root = root.parent
  const raw = (root as unknown as { rawArgs?: unknown }).rawArgs
  const args = Array.isArray(raw) ? raw.filter((a): a is string => typeof a === 'string') : []
  const dash = args.indexOf('--')
  if (dash < 0) return { before: operands, after: [] }
  const after = args.slice(dash + 1)
  return { before: operands.slice(0, Math.max(0, operands.length - after.length)), after }
}
