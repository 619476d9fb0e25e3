import { dotted, guardedExec, undotted } from './sandbox-exec.js'
import type { ToolContext } from './types.js'

/** Bytes of `find` output kept; a tree larger than this is listed in part. */
const MAX_LISTING_BYTES = 16 * 1024 * 1024

/** The directories a search skips: .git and node_modules, unless `mentions` names them. */
export function skippedDirs(mentions: string): string[] {
  const segments = mentions.split(/[/{},]/)
  return ['.git', 'node_modules'].filter((name) => !segments.includes(name))
}

/** `find` over `base` (a project path) with the skipped directories pruned; add tests after. */
export function findCommand(base: string, mentions: string): string[] {
  const tests = skippedDirs(mentions).flatMap((name, i) =>
    i === 0 ? ['-name', name] : ['-o', '-name', name],
  )
  const pruning = tests.length === 0 ? [] : ['(', ...tests, ')', '-prune', '-o']
  return ['find', '-H', dotted(base), ...pruning]
}

export interface FileListing {
  /** Project paths under the base, unsorted. */
  paths: string[]
  /** True when the listing was too large and is incomplete. */
  partial: boolean
}

/**
 * Every file and symlink (only regular files with `regularOnly`, so that no symlink is
 * followed later) under the directory `base` (a project path), found by one `find` in the
 * sandbox. `mentions` (the base and the pattern) decides what is skipped.
 */
export async function listFiles(
  ctx: ToolContext,
  base: string,
  mentions: string,
  options: { regularOnly?: boolean } = {},
): Promise<FileListing> {
  const kind = options.regularOnly === true ? ['-type', 'f'] : ['!', '-type', 'd']
  const argv = [...findCommand(base, mentions), ...kind, '-print0']
  const result = await guardedExec(ctx, base, 'dir', argv, { maxOutputBytes: MAX_LISTING_BYTES })
  const names = result.stdout.split('\0')
  // The last name is empty, or cut when the output was. (An unreadable subdirectory makes find
  // exit 1, but the rest of the listing is still good.)
  names.pop()
  return { paths: names.map(undotted), partial: result.truncatedBytes > 0 }
}

/** `path` relative to the directory `base` (both project paths). */
export function relativeTo(base: string, path: string): string {
  return base === '.' ? path : path.slice(base.length + 1)
}
