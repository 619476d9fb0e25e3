import { lstat, readFile, readdir, readlink } from 'node:fs/promises'
import path from 'node:path'
import type { ChangeSet, WorkspaceChange } from '../agent-channel/types.js'
import { applyToMirror, type MirrorApplyResult } from './mirror-apply.js'

/**
 * Brings the mirror in line with a workspace recovered from a dead VM's drive (a `debugfs rdump`
 * tree): the same checks as a live pull, since the drive was written by the guest.
 */
export async function applyRecoveredTree(
  recoveredDir: string,
  mirrorDir: string,
): Promise<MirrorApplyResult> {
  const set = await diffTrees(recoveredDir, mirrorDir)
  return applyToMirror(mirrorDir, set, async (paths, onFile) => {
    const missing: string[] = []
    let pulled = 0
    for (const rel of paths) {
      const source = path.join(recoveredDir, ...rel.split('/'))
      const info = await lstat(source).catch(() => undefined)
      if (info?.isFile() !== true) {
        missing.push(rel)
        continue
      }
      await onFile({ path: rel, mode: info.mode & 0o777, data: await readFile(source) })
      pulled++
    }
    return { pulled, missing }
  })
}

const LOST_AND_FOUND = 'lost+found'

/** What differs between `from` (the truth) and `to`: files by content, links by target. */
export async function diffTrees(from: string, to: string): Promise<ChangeSet> {
  const changes: WorkspaceChange[] = []
  const skipped: ChangeSet['skipped'] = []
  const seen = new Set<string>()
  const walk = async (rel: string): Promise<void> => {
    const dir = path.join(from, ...(rel === '' ? [] : rel.split('/')))
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`
      // mkfs.ext4 makes it at the drive's root; it was never part of the project.
      if (child === LOST_AND_FOUND) continue
      seen.add(child)
      const source = path.join(dir, entry.name)
      const info = await lstat(source)
      const mine = await lstat(path.join(to, ...child.split('/'))).catch(() => undefined)
      if (info.isDirectory()) {
        if (mine?.isDirectory() !== true)
          changes.push({ path: child, kind: 'dir', mode: info.mode & 0o777 })
        await walk(child)
      } else if (info.isSymbolicLink()) {
        const target = await readlink(source)
        const current =
          mine?.isSymbolicLink() === true
            ? await readlink(path.join(to, ...child.split('/')))
            : undefined
        if (current !== target) changes.push({ path: child, kind: 'symlink', target })
      } else if (info.isFile()) {
        const same =
          mine?.isFile() === true &&
          mine.size === info.size &&
          (mine.mode & 0o777) === (info.mode & 0o777) &&
          (await readFile(path.join(to, ...child.split('/')))).equals(await readFile(source))
        if (!same)
          changes.push({
            path: child,
            kind: 'file',
            mode: info.mode & 0o777,
            size: info.size,
            sha256: '',
          })
      } else {
        skipped.push({ path: child, reason: 'not a regular file, directory or symlink' })
      }
    }
  }
  await walk('')
  const gone = async (rel: string): Promise<void> => {
    const dir = path.join(to, ...(rel === '' ? [] : rel.split('/')))
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (child === LOST_AND_FOUND && !seen.has(child)) continue
      if (!seen.has(child)) changes.push({ path: child, kind: 'deleted' })
      else if (entry.isDirectory()) await gone(child)
    }
  }
  await gone('')
  return { changes, skipped }
}
