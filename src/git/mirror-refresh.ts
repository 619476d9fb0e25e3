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
  countFiles,
  findDir,
  getFile,
  listFiles,
  removePath,
  setFile,
  type DirNode,
  type TrackedFile,
} from './file-tree.js'
import { writeLooseBlobFrom, writeLooseObject } from './loose-object.js'
import {
  readFailed,
  readMirrorEntry,
  tooLargePlaceholder,
  type LargeFileSink,
  type SkipReason,
} from './mirror-entry.js'
import { walkMirror, type WalkedPath } from './mirror-walk.js'
import { isRacy, sameStat, type RepoState } from './stat-cache.js'
import { answerMatches, statHelperReady, statOnHelper } from './stat-helper.js'
import { objectId } from './object-id.js'
import type { AuditRepo } from './audit-repo.js'

const concurrency = 16
/** Paths stat'ed between turns of the event loop when this thread works alone. */
const statBatch = 2000
/** Paths collected from the walk before a batch is stat'ed. */
const queueBatch = 4000
/** Below this a batch is not worth a round trip to the helper thread. */
const helperMinimum = 1000

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
  const storeLarge: LargeFileSink = (handle, size) => writeLooseBlobFrom(repo.gitdir, handle, size)
  // Walked names are valid tree names, so plain concatenation is what path.join would give.
  const workDirPrefix = `${repo.workDir}${path.sep}`

  // Counts every entry set or removed, so a walk can tell whether the tree moved under it.
  let treeChanges = 0

  function note(
    rel: string,
    before: TrackedFile | undefined,
    after: TrackedFile | undefined,
  ): void {
    treeChanges++
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
    const entry = await readMirrorEntry(repo, rel, storeLarge, stats)
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
    if (!tooLarge) options.onRead?.(rel)
    const racy = isRacy(entry.stat, seenAt)
    // A large file is already stored (it streamed through the sink); the rest is in memory.
    let blob: { oid: string; size: number; content?: Buffer }
    if (entry.kind === 'stored') blob = { oid: entry.oid, size: entry.size }
    else {
      const content = tooLarge
        ? tooLargePlaceholder(rel, entry.stat.size, repo.maxFileBytes)
        : entry.content
      const size = tooLarge ? entry.stat.size : content.byteLength
      blob = { oid: objectId('blob', content), size, content }
    }
    const { oid, size } = blob
    if (cached !== undefined && cached.oid === oid && cached.mode === entry.mode) {
      cached.stat = entry.stat
      cached.racy = racy
      state.dirty.add(rel)
      refresh.statsUpdated = true
      return
    }
    if (blob.content !== undefined) await writeLooseObject(repo.gitdir, 'blob', blob.content)
    refresh.infos.push(tooLarge ? { oid, size, tooLargePath: rel } : { oid, size })
    const file: TrackedFile = { mode: entry.mode, oid, size, tooLarge, stat: entry.stat, racy }
    for (const [gone, old] of setFile(root, rel, file)) note(gone, old, undefined)
    note(rel, cached, file)
  }

  async function refreshDir(rel: string): Promise<void> {
    if (rel !== '' && getFile(root, rel) !== undefined) remove(rel)
    const node = findDir(root, rel)
    const seen: Seen = { known: 0 }
    const stale: [string, Stats][] = []
    const changesBefore = treeChanges
    // Walked paths are stat'ed in batches while deeper directories are still being read.
    const queue = statQueue(seen, stale)
    const walked = await walkMirror(repo.workDir, rel, options.signal, queue.add)
    await queue.flush()
    refresh.skipped.push(...walked.skipped)
    // Each walked path is counted once: if the tree did not change meanwhile and every file it
    // holds was walked, nothing was deleted, and the by-path check of every file is skipped.
    const untouched = treeChanges === changesBefore
    if (node !== undefined && !(untouched && seen.known === countFiles(node))) {
      // By path, not by object: a concurrent refresh of a reported path may replace an entry.
      const walkedPaths = new Set(walked.paths.map((p) => p.rel))
      for (const [gone] of listFiles(node, rel)) if (!walkedPaths.has(gone)) remove(gone)
    }
    await eachLimit(
      stale,
      concurrency,
      ([child, stats]) => refreshFile(child, stats),
      options.signal,
    )
  }

  /** How many walked paths the tree held as files when they were stat'ed. */
  interface Seen {
    known: number
  }

  /** Collects walked paths into batches and stats them one batch after another. */
  function statQueue(
    seen: Seen,
    stale: [string, Stats][],
  ): { add: (paths: WalkedPath[]) => Promise<void>; flush: () => Promise<void> } {
    let queued: WalkedPath[] = []
    let done: Promise<void> = Promise.resolve()
    const flush = (): Promise<void> => {
      if (queued.length > 0) {
        const batch = queued
        queued = []
        done = done.then(() => statBatchOf(batch, seen, stale))
      }
      return done
    }
    const add = (paths: WalkedPath[]): Promise<void> => {
      for (const walked of paths) queued.push(walked)
      return queued.length >= queueBatch ? flush() : done
    }
    return { add, flush }
  }

  // Large batches are split with the stat helper thread: it stats the second half while this
  // thread stats the first. Its answers only confirm files unchanged since they were hashed;
  // any other answer is stat'ed here again, and if the helper fails this thread does it all.
  async function statBatchOf(
    paths: WalkedPath[],
    seen: Seen,
    stale: [string, Stats][],
  ): Promise<void> {
    throwIfAborted(options.signal, 'Recording the mirror')
    if (paths.length >= helperMinimum && statHelperReady()) {
      const half = paths.length >> 1
      const rels: string[] = []
      for (let i = half; i < paths.length; i++) rels.push((paths[i] as WalkedPath).rel)
      const remote = statOnHelper(workDirPrefix, rels).catch(() => undefined)
      statPaths(paths, 0, half, seen, stale)
      const answers = await remote
      throwIfAborted(options.signal, 'Recording the mirror')
      statPaths(paths, half, paths.length, seen, stale, answers)
      return
    }
    for (let start = 0; start < paths.length; start += statBatch) {
      if (start > 0) {
        await yieldToLoop()
        throwIfAborted(options.signal, 'Recording the mirror')
      }
      statPaths(paths, start, Math.min(start + statBatch, paths.length), seen, stale)
    }
  }

  // Walked paths come grouped by directory: look each directory up once per batch, not per path
  // (a batch runs without yielding, so nothing else changes the tree under it meanwhile).
  function statPaths(
    paths: WalkedPath[],
    start: number,
    end: number,
    seen: Seen,
    stale: [string, Stats][],
    answers?: Float64Array,
  ): void {
    let parent: string | undefined
    let parentNode: DirNode | undefined
    for (let i = start; i < end; i++) {
      const { rel: child, dir, name } = paths[i] as WalkedPath
      if (dir !== parent) {
        parent = dir
        parentNode = findDir(root, dir)
      }
      const known = parentNode?.files.get(name)
      if (known !== undefined) seen.known++
      if (answers !== undefined && known?.racy === false) {
        if (answerMatches(answers, i - start, known.stat)) continue
      }
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
