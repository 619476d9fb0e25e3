import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError } from '../shared/errors.js'
import { blobOid, symlinkMode } from './blob-oid.js'
import { displayPath } from './copy-errors.js'
import type { JournalChange } from './journal.js'
import { keptUnder } from './sync-dirs.js'
import { listPaths } from './sync-errors.js'
import { readHostState, sameEntry, type HostState } from './sync-host.js'
import { underAny } from './sync-paths.js'
import type { SyncItem } from './sync-types.js'
import type { Permissions } from './sync-write.js'

/** A change ready to apply: its journal entry plus what to write. */
export interface Prepared {
  item: SyncItem
  change: JournalChange
  permissions: Permissions
}

export function refuseUnconfirmed(writing: SyncItem[], confirmed: boolean): void {
  const risky = writing.filter((item) => item.risky.length > 0)
  if (confirmed || risky.length === 0) return
  const listed = risky.map((item) => `${displayPath(item.path)} (${item.risky.join(', ')})`)
  throw new SafeCoderError(
    'USAGE',
    `Sync needs confirmation: ${risky.length} risky change(s): ${listPaths(listed, 10)}.`,
    {
      hint: 'Review them with `safe-coder sync --dry-run`, then confirm with --yes (or leave them out with --exclude).',
      data: { paths: risky.map((item) => item.path) },
    },
  )
}

/** Deletions first (a path freed may be needed by a creation), then the rest; each by path. */
export function order(items: SyncItem[]): SyncItem[] {
  const deletes = items.filter((item) => item.action === 'delete')
  return [...deletes, ...items.filter((item) => item.action !== 'delete')]
}

/**
 * Checks the host still holds what the plan saw and backs it up into the journal in the same
 * read; returns why not when the host changed since planning.
 */
export async function prepare(
  projectDir: string,
  dir: string,
  item: SyncItem,
  index: number,
  deleted: ReadonlySet<string>,
): Promise<Prepared | string> {
  const backup = path.posix.join('backup', String(index))
  let handle: FileHandle | undefined
  // Below a link this sync deletes first: never read (or back up) what lies behind the link.
  const state = underAny(item.path, deleted)
    ? ({ kind: 'missing' } as const)
    : await readHostState(projectDir, item.path, {
        sink: async (chunk) => {
          handle ??= await open(path.join(dir, backup), 'wx', 0o600)
          await handle.write(chunk)
        },
      }).finally(async () => {
        await handle?.sync()
        await handle?.close()
      })
  const host = state.kind === 'entry' ? state.entry : undefined
  if (item.hostDir === true) {
    const problem = await dirProblem(projectDir, item, state, deleted)
    if (problem !== undefined) return problem
  } else if (state.kind === 'other' || !sameEntry(host, item.host)) {
    return 'the host file changed after the plan was made; plan again'
  }
  const session = item.session
  const change: JournalChange = { path: item.path, action: item.action }
  if (state.kind === 'entry') {
    if (handle === undefined) await (await open(path.join(dir, backup), 'wx', 0o600)).close()
    change.before = {
      oid: state.entry.oid,
      mode: state.entry.mode,
      permissions: state.permissions,
      backup,
    }
  }
  if (session !== undefined && item.action !== 'delete') {
    const oid = item.merge === undefined ? session.oid : blobOid(Buffer.from(item.merge.text))
    change.after = { oid, mode: session.mode }
  }
  const executable = session?.mode === 0o100755
  let permissions: Permissions = { executable }
  if (state.kind === 'entry' && state.entry.mode !== symlinkMode) {
    const kept = state.permissions & 0o777
    permissions = executable ? kept | ((kept & 0o444) >> 2) : kept & ~0o111
  }
  return { item, change, permissions }
}

/** A directory the session replaced with a file: still a directory, emptied by this sync. */
async function dirProblem(
  projectDir: string,
  item: SyncItem,
  state: HostState,
  deleted: ReadonlySet<string>,
): Promise<string | undefined> {
  if (state.kind !== 'other' || state.what !== 'directory')
    return 'the host directory changed after the plan was made; plan again'
  const kept = await keptUnder(projectDir, item.path, deleted)
  if (kept.length === 0) return undefined
  return `the host directory now holds ${listPaths(kept)}, which the session does not delete; plan again`
}
