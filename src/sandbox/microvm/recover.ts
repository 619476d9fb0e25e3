import { createReadStream } from 'node:fs'
import { lstat, open, readdir, readlink } from 'node:fs/promises'
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
  return applyToMirror(mirrorDir, set, async (paths, receive) => {
    const missing: string[] = []
    let pulled = 0
    for (const rel of paths) {
      const source = path.join(recoveredDir, ...rel.split('/'))
      const info = await lstat(source).catch(() => undefined)
      if (info?.isFile() !== true) {
        missing.push(rel)
        continue
      }
      const receiver = await receive({ path: rel, mode: info.mode & 0o777, size: info.size })
      try {
        // In chunks: a recovered file may be larger than memory allows (or 2 GiB and more).
        for await (const chunk of createReadStream(source, { highWaterMark: 1024 * 1024 })) {
          await receiver.write(chunk as Buffer)
        }
      } catch (error) {
        await receiver.discard()
        throw error
      }
      await receiver.commit()
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
          (await sameContent(path.join(to, ...child.split('/')), source))
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

/** Whether two files hold the same bytes, compared 1 MiB at a time (they may be huge). */
async function sameContent(a: string, b: string): Promise<boolean> {
  const [left, right] = await Promise.all([open(a, 'r'), open(b, 'r')])
  try {
    const size = 1024 * 1024
    const one = Buffer.allocUnsafe(size)
    const two = Buffer.allocUnsafe(size)
    for (let offset = 0; ; offset += size) {
      const [x, y] = await Promise.all([
        left.read(one, 0, size, offset),
        right.read(two, 0, size, offset),
      ])
      if (x.bytesRead !== y.bytesRead) return false
      if (x.bytesRead === 0) return true
      if (!one.subarray(0, x.bytesRead).equals(two.subarray(0, y.bytesRead))) return false
    }
  } finally {
    await Promise.all([left.close(), right.close()])
  }
}
