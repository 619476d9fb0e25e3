import { createDir, findDir, setFile } from './file-tree.js'
import { readFlatTree } from './history-tree.js'
import { loadStatCache, type RepoState } from './stat-cache.js'
import type { AuditRepo } from './audit-repo.js'

const states = new WeakMap<AuditRepo, RepoState>()

/**
 * HEAD's files and trees: kept in memory between commits of one AuditRepo, else loaded from the
 * stat cache, else rebuilt from the history (every file then rehashed when next seen).
 */
export async function loadState(repo: AuditRepo, head: string): Promise<RepoState> {
  const kept = states.get(repo)
  if (kept?.head === head) return kept
  const state =
    (await loadStatCache(repo.gitdir, head)) ?? (await stateFromHistory(repo.gitdir, head))
  states.set(repo, state)
  return state
}

export function keepState(repo: AuditRepo, state: RepoState): void {
  states.set(repo, state)
}

/** After a failed commit the in-memory state may be ahead of HEAD: drop it. */
export function forgetState(repo: AuditRepo): void {
  states.delete(repo)
}

async function stateFromHistory(gitdir: string, head: string): Promise<RepoState> {
  const { manifest, trees } = await readFlatTree(gitdir, head)
  const root = createDir()
  for (const [rel, entry] of Object.entries(manifest)) {
    setFile(root, rel, {
      mode: entry.mode,
      oid: entry.oid,
      size: entry.size,
      tooLarge: entry.tooLarge === true,
      stat: undefined,
      racy: true,
    })
  }
  for (const [dir, oid] of trees) {
    const node = findDir(root, dir)
    if (node !== undefined) node.oid = oid
  }
  return { head, root, dirty: new Set() }
}
