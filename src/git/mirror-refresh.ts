import type { Stats } from 'node:fs'
import { lstatSync } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { throwIfAborted } from '../shared/abort.js'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import type { BlobInfo } from './blob-info.js'
import { eachLimit } from './each-limit.js'
import {
  findDir,
  getFile,
  listFiles,
  removePath,
  setFile,
  type DirNode,
  type TrackedFile,
} from './file-tree.js'
import { writeLooseObject } from './loose-object.js'
import {
  readFailed,
  readMirrorEntry,
  tooLargePlaceholder,
  type SkipReason,
} from './mirror-entry.js'
import { walkMirror, type WalkedPath } from './mirror-walk.js'
import { isRacy, sameStat, type RepoState } from './stat-cache.js'
import { objectId } from './object-id.js'
import type { AuditRepo } from './audit-repo.js'

const concurrency = 16
const statBatch = 2000

/**
 * Brings the in-memory HEAD state up to date with parts of the mirror, writing each new blob as
 * a loose object. Files whose stat matches what was hashed last time are not read.
 */
export interface MirrorRefresh {
  /** A path, file or directory (its whole subtree), as it is now; gone paths are deletions. */
  refreshPath(rel: string): Promise<void>
  /** What each changed path was at HEAD and is now (undefined: absent). */
  changes: Map<string, { before: TrackedFile | undefined; after: TrackedFile | undefined }>
  skipped: { path: string; reason: SkipReason }[]
  infos: BlobInfo[]
  /** Some stats were refreshed without a content change: worth saving the cache. */
  statsUpdated: boolean
}

export function createMirrorRefresh(
  repo: AuditRepo,
  state: RepoState,
  options: { signal?: AbortSignal; onRead?: (path: string) => void },
): MirrorRefresh {
  const { root } = state
  const refresh: MirrorRefresh = {
    refreshPath,
    changes: new Map(),
    skipped: [],
    infos: [],
    statsUpdated: false,
  }
  const ancestors = new Map<string, Promise<Stats | undefined>>()
  // Walked names are valid tree names, so plain concatenation is what path.join would give.
  const workDirPrefix = `${repo.workDir}${path.sep}`

  function note(
    rel: string,
    before: TrackedFile | undefined,
    after: TrackedFile | undefined,
  ): void {
    state.dirty.add(rel)
    const known = refresh.changes.get(rel)
    refresh.changes.set(rel, { before: known === undefined ? before : known.before, after })
  }

  function remove(rel: string): void {
    for (const [gone, file] of removePath(root, rel)) note(gone, file, undefined)
  }

  async function refreshFile(rel: string, stats: Stats): Promise<void> {
    const cached = getFile(root, rel)
    if (cached !== undefined && !cached.racy && sameStat(cached.stat, stats)) return
    const seenAt = Date.now()
    const entry = await readMirrorEntry(repo.workDir, rel, repo.maxFileBytes, stats)
    if (entry.kind === 'missing') {
      remove(rel)
      return
    }
    if (entry.kind === 'directory') {
      await refreshDir(rel)
      return
    }
    if (entry.kind === 'skip') {
      refresh.skipped.push({ path: rel, reason: entry.reason })
      remove(rel)
      return
    }
    const tooLarge = entry.kind === 'too-large'
    const content = tooLarge
      ? tooLargePlaceholder(rel, entry.stat.size, repo.maxFileBytes)
      : entry.content
    if (!tooLarge) options.onRead?.(rel)
    const racy = isRacy(entry.stat, seenAt)
    const oid = objectId('blob', content)
    if (cached !== undefined && cached.oid === oid && cached.mode === entry.mode) {
      cached.stat = entry.stat
      cached.racy = racy
      state.dirty.add(rel)
      refresh.statsUpdated = true
      return
    }
    await writeLooseObject(repo.gitdir, 'blob', content)
    const size = tooLarge ? entry.stat.size : content.byteLength
    refresh.infos.push(tooLarge ? { oid, size, tooLargePath: rel } : { oid, size })
    const file: TrackedFile = { mode: entry.mode, oid, size, tooLarge, stat: entry.stat, racy }
    for (const [gone, old] of setFile(root, rel, file)) note(gone, old, undefined)
    note(rel, cached, file)
  }

  async function refreshDir(rel: string): Promise<void> {
    if (rel !== '' && getFile(root, rel) !== undefined) remove(rel)
    const node = findDir(root, rel)
    // By path, not by object: a concurrent refresh of a reported path may replace a file's entry.
    const seen = new Set<string>()
    const stale: [string, Stats][] = []
    // Each directory's paths are stat'ed while deeper ones are still being read.
    const walked = await walkMirror(repo.workDir, rel, options.signal, async (paths) => {
      for (let start = 0; start < paths.length; start += statBatch) {
        if (start > 0) await yieldToLoop()
        throwIfAborted(options.signal, 'Recording the mirror')
        statPaths(paths, start, Math.min(start + statBatch, paths.length), seen, stale)
      }
    })
    refresh.skipped.push(...walked.skipped)
    if (node !== undefined) {
      for (const [gone] of listFiles(node, rel)) if (!seen.has(gone)) remove(gone)
    }
    await eachLimit(
      stale,
      concurrency,
      ([child, stats]) => refreshFile(child, stats),
      options.signal,
    )
  }

  // Walked paths come grouped by directory: look each directory up once per batch, not per path
  // (a batch runs without yielding, so nothing else changes the tree under it meanwhile).
  function statPaths(
    paths: WalkedPath[],
    start: number,
    end: number,
    seen: Set<string>,
    stale: [string, Stats][],
  ): void {
    let parent: string | undefined
    let parentNode: DirNode | undefined
    for (let i = start; i < end; i++) {
      const child = (paths[i] as WalkedPath).rel
      const slash = child.lastIndexOf('/')
      const dir = slash < 0 ? '' : child.slice(0, slash)
      if (dir !== parent) {
        parent = dir
        parentNode = findDir(root, dir)
      }
      const known = parentNode?.files.get(child.slice(slash + 1))
      seen.add(child)
      const stats = lstatNow(child)
      if (stats === undefined) remove(child)
      else if (known?.racy !== false || !sameStat(known.stat, stats)) stale.push([child, stats])
    }
  }

  // The scan's cost is one lstat per file: synchronous calls skip a thread-pool round trip each
  // (several times faster), in batches so the event loop still turns every few milliseconds.
  function lstatNow(rel: string): Stats | undefined {
    try {
      return lstatSync(workDirPrefix + rel, { throwIfNoEntry: false })
    } catch (error) {
      if (errnoOf(error) === 'ENOTDIR') return undefined
      throw readFailed(rel, error)
    }
  }

  async function lstatOrUndefined(rel: string): Promise<Stats | undefined> {
    try {
      return await lstat(path.join(repo.workDir, rel))
    } catch (error) {
      const errno = errnoOf(error)
      if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined
      throw readFailed(rel, error)
    }
  }

  // A reported path is looked up only through real directories: a parent replaced by a symlink
  // or a file is recorded as that, and nothing behind it is read.
  async function refreshPath(rel: string): Promise<void> {
    if (rel === '') return refreshDir('')
    const segments = rel.split('/')
    for (let i = 1; i <= segments.length; i++) {
      const prefix = segments.slice(0, i).join('/')
      let pending = ancestors.get(prefix)
      if (pending === undefined || i === segments.length) {
        pending = lstatOrUndefined(prefix)
        ancestors.set(prefix, pending)
      }
      const stats = await pending
      if (stats === undefined) {
        remove(prefix)
        return
      }
      if (!stats.isDirectory()) {
        await refreshFile(prefix, stats)
        return
      }
    }
    await refreshDir(rel)
  }

  return refresh
}
