import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import path from 'node:path'

/** What `mkfs.ext4 -d` will have to store for a tree. */
export interface TreeUsage {
  /** Sum of file sizes, each rounded up to a 4 KiB block. */
  blockBytes: number
  /** Files, directories, links and nodes (one inode each). */
  inodes: number
}

const BLOCK = 4096

/** Walks a tree without following symlinks, calling `visit` for every entry below `root`. */
export async function walkTree(
  root: string,
  visit: (rel: string, info: Awaited<ReturnType<typeof lstat>>) => void | Promise<void>,
): Promise<void> {
  const walk = async (rel: string): Promise<void> => {
    const dir = rel === '' ? root : path.join(root, rel)
    const names = (await readdir(dir)).sort()
    for (const name of names) {
      const child = rel === '' ? name : `${rel}/${name}`
      const info = await lstat(path.join(root, child))
      await visit(child, info)
      if (info.isDirectory()) await walk(child)
    }
  }
  await walk('')
}

export async function treeUsage(root: string): Promise<TreeUsage> {
  let blockBytes = BLOCK
  let inodes = 1
  const seen = new Set<string>()
  await walkTree(root, (_rel, info) => {
    if (info.nlink > 1 && !info.isDirectory()) {
      // A hard link costs a directory entry, not another copy.
      const key = `${info.dev}:${info.ino}`
      if (seen.has(key)) return
      seen.add(key)
    }
    inodes++
    const size = info.isSymbolicLink() && info.size < 60 ? 0 : info.size
    blockBytes += Math.ceil(Number(size) / BLOCK) * BLOCK
  })
  return { blockBytes, inodes }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** sha256 over paths, modes and contents of every regular file and link (for cache keys). */
export async function hashTreeContent(root: string): Promise<string> {
  const hash = createHash('sha256')
  await walkTree(root, async (rel, info) => {
    hash.update(`${rel}\0${Number(info.mode).toString(8)}\0`)
    if (info.isFile()) hash.update(await sha256File(path.join(root, rel)))
    hash.update('\n')
  })
  return hash.digest('hex')
}

/** A cheap fingerprint of a big tree: names, modes, owners, sizes and mtimes (no contents). */
export async function fingerprintTree(root: string): Promise<string> {
  const hash = createHash('sha256')
  await walkTree(root, (rel, info) => {
    hash.update(
      `${rel}\0${info.mode}\0${info.uid}:${info.gid}\0${info.size}\0${Math.floor(Number(info.mtimeMs))}\n`,
    )
  })
  return hash.digest('hex')
}
