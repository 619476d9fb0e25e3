import { lstat, open, readdir, readlink } from 'node:fs/promises'
import path from 'node:path'
import { createTaskPool } from '../../workspace/task-pool.js'
import type { ChangeSet, WorkspaceChange } from '../agent-channel/types.js'
import { openDriveTree, type DriveTree } from './ext4/index.js'
import { applyToMirror, type MirrorApplyResult } from './mirror-apply.js'

/** What a recovery reads: a drive's checked tree (ext4/), or an in-memory one in tests. */
export type RecoveredTree = Pick<DriveTree, 'entries' | 'skipped' | 'chunks'>

export interface RecoveryResult extends MirrorApplyResult {
  /** What stays in the guest's drive, with why (as a live pull reports it). */
  skipped: { path: string; reason: string }[]
}

/**
 * Brings the mirror in line with the workspace drive of a VM that died before its final pull.
 * The drive is read by Safe Coder's own reader, which refuses a crafted or damaged file system
 * before anything is written; what it yields goes through the same checks as a live pull.
 */
export async function recoverWorkspaceDrive(
  drivePath: string,
  mirrorDir: string,
  maxFileBytes: number,
): Promise<RecoveryResult> {
  // Files over the session's cap are said to be too large, as a live pull says them.
  const tree = await openDriveTree(drivePath, { maxFileBytes })
  try {
    return await applyRecoveredTree(tree, mirrorDir)
  } finally {
    await tree.close()
  }
}

export async function applyRecoveredTree(
  tree: RecoveredTree,
  mirrorDir: string,
): Promise<RecoveryResult> {
  const set = await diffRecoveredTree(tree, mirrorDir)
  const byPath = new Map(tree.entries.map((entry) => [entry.path, entry]))
  const result = await applyToMirror(mirrorDir, set, async (paths, receive) => {
    const missing: string[] = []
    for (const rel of paths) {
      const entry = byPath.get(rel)
      if (entry?.kind !== 'file' || entry.tooLarge === true) {
        missing.push(rel)
        continue
      }
      const receiver = await receive({ path: rel, mode: entry.mode & 0o777, size: entry.size })
      try {
        // In chunks: a recovered file may be larger than memory allows (2 GiB and more).
        for await (const chunk of tree.chunks(entry)) await receiver.write(chunk)
      } catch (error) {
        await receiver.discard()
        throw error
      }
      await receiver.commit()
    }
    return { pulled: paths.length - missing.length, missing }
  })
  return { ...result, skipped: set.skipped }
}

const LOST_AND_FOUND = 'lost+found'
/** Files compared at once: libuv's four threads overlap the reads. */
const COMPARE_AT_ONCE = 16

/**
 * What differs between the drive's tree (the truth) and the mirror: files by content and mode,
 * links by target. A mirror path under something that is not a real directory is not read.
 */
export async function diffRecoveredTree(
  tree: RecoveredTree,
  mirrorDir: string,
): Promise<ChangeSet> {
  const changes: WorkspaceChange[] = []
  const skipped: ChangeSet['skipped'] = [...tree.skipped]
  const seen = new Set(tree.skipped.map((s) => s.path))
  const treeDirs = new Set<string>()
  const mirrorDirs = new Set<string>([''])
  const mirrorPath = (rel: string): string => path.join(mirrorDir, ...rel.split('/'))
  // Same size and mode: the bytes decide, read side by side a few files at a time.
  const compare = createTaskPool(COMPARE_AT_ONCE)
  for (const entry of tree.entries) {
    seen.add(entry.path)
    const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : ''
    const mine = mirrorDirs.has(parent)
      ? await lstat(mirrorPath(entry.path)).catch(() => undefined)
      : undefined
    switch (entry.kind) {
      case 'dir':
        treeDirs.add(entry.path)
        if (mine?.isDirectory() === true) mirrorDirs.add(entry.path)
        else changes.push({ path: entry.path, kind: 'dir', mode: entry.mode & 0o777 })
        break
      case 'symlink': {
        const current =
          mine?.isSymbolicLink() === true ? await readlink(mirrorPath(entry.path)) : undefined
        if (current !== entry.target)
          changes.push({ path: entry.path, kind: 'symlink', target: entry.target })
        break
      }
      case 'file': {
        const mode = entry.mode & 0o777
        const differs =
          mine?.isFile() !== true || mine.size !== entry.size || (mine.mode & 0o777) !== mode
        if (entry.tooLarge === true) {
          // Its bytes are never read; a stand-in of its size is recorded as too large.
          if (differs) changes.push({ path: entry.path, kind: 'too-large', mode, size: entry.size })
          break
        }
        const change = {
          path: entry.path,
          kind: 'file',
          mode,
          size: entry.size,
          sha256: '',
        } as const
        if (differs) changes.push(change)
        else
          compare.add(async () => {
            if (!(await sameContent(mirrorPath(entry.path), tree.chunks(entry))))
              changes.push(change)
          })
        break
      }
      case 'other':
        skipped.push({ path: entry.path, reason: entry.special })
        break
    }
  }
  await compare.done()
  const gone = async (rel: string): Promise<void> => {
    for (const found of await readdir(mirrorPath(rel), { withFileTypes: true })) {
      const child = rel === '' ? found.name : `${rel}/${found.name}`
      if (child === LOST_AND_FOUND && !seen.has(child)) continue
      if (!seen.has(child)) changes.push({ path: child, kind: 'deleted' })
      else if (found.isDirectory() && treeDirs.has(child)) await gone(child)
    }
  }
  await gone('')
  return { changes, skipped }
}

/** Whether a mirror file holds the bytes of `chunks`, read alongside (they may be huge). */
async function sameContent(file: string, chunks: AsyncIterable<Buffer>): Promise<boolean> {
  const handle = await open(file, 'r')
  try {
    let offset = 0
    for await (const chunk of chunks) {
      const ours = Buffer.allocUnsafe(chunk.length)
      const { bytesRead } = await handle.read(ours, 0, chunk.length, offset)
      if (bytesRead !== chunk.length || !ours.equals(chunk)) return false
      offset += chunk.length
    }
    return (await handle.read(Buffer.alloc(1), 0, 1, offset)).bytesRead === 0
  } finally {
    await handle.close()
  }
}
