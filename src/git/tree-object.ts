import type { GitFileMode } from '../shared/manifest.js'
import { encodeTreeName } from './tree-name.js'

/** One entry of a git tree object; `name` is a single mirror path segment (stored escaped). */
export interface TreeEntry {
  name: string
  mode: GitFileMode | 0o40000
  oid: string
}

// Git requires tree entries in byte order of their UTF-8 names, a directory sorting as "name/".
export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  const keyed = entries.map((entry) => {
    const stored = encodeTreeName(entry.name)
    return {
      entry,
      name: Buffer.from(stored),
      key: Buffer.from(entry.mode === 0o40000 ? `${stored}/` : stored),
    }
  })
  keyed.sort((a, b) => Buffer.compare(a.key, b.key))
  const parts: Buffer[] = []
  for (const { entry, name } of keyed) {
    parts.push(Buffer.from(`${entry.mode.toString(8)} `), name, Buffer.from([0]))
    parts.push(Buffer.from(entry.oid, 'hex'))
  }
  return Buffer.concat(parts)
}

/** A tree entry name git accepts: not empty, `.` or `..`, and without `/` or NUL. */
export function isValidTreeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0')
}
