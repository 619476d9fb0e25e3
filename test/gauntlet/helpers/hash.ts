import { createHash } from 'node:crypto'
import { lstat, readFile, readdir, readlink } from 'node:fs/promises'
import path from 'node:path'

/** Every path of a tree with its kind, mode and content hash: "unchanged" means equal maps. */
export async function treeHash(
  root: string,
  rel = '',
  skip: (rel: string) => boolean = () => false,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  let names: string[]
  try {
    names = (await readdir(path.join(root, rel))).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return {}
    throw error
  }
  for (const name of names) {
    const p = rel === '' ? name : `${rel}/${name}`
    if (skip(p)) continue
    const full = path.join(root, p)
    const info = await lstat(full)
    const mode = (info.mode & 0o7777).toString(8)
    if (info.isDirectory()) {
      out[p] = `dir ${mode}`
      Object.assign(out, await treeHash(root, p, skip))
    } else if (info.isSymbolicLink()) out[p] = `link ${await readlink(full)}`
    // Huge (sparse) files are compared by size and mtime: hashing 10 GB of zeros proves nothing.
    else if (info.isFile() && info.size > 64 * 1024 ** 2)
      out[p] = `file ${mode} size ${info.size} mtime ${info.mtimeMs}`
    else if (info.isFile()) out[p] = `file ${mode} ${sha256(await readFile(full))}`
    else out[p] = `special ${info.mode.toString(8)}`
  }
  return out
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** One digest for a whole tree map (for messages: which tree changed). */
export function digest(tree: Record<string, string>): string {
  return sha256(JSON.stringify(tree)).slice(0, 16)
}

/** The paths whose entries differ between two tree maps, for a readable failure. */
export function treeChanges(
  before: Record<string, string>,
  after: Record<string, string>,
): string[] {
  const changes: string[] = []
  for (const [p, v] of Object.entries(after)) {
    if (!(p in before)) changes.push(`+ ${JSON.stringify(p)} (${v.split(' ')[0] ?? ''})`)
    else if (before[p] !== v) changes.push(`~ ${JSON.stringify(p)}`)
  }
  for (const p of Object.keys(before)) if (!(p in after)) changes.push(`- ${JSON.stringify(p)}`)
  return changes
}
