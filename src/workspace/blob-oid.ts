import { createHash, type Hash } from 'node:crypto'
import type { GitFileMode } from '../shared/manifest.js'

/** Git's blob id of `content`: sha1 of `blob <size>\0` followed by the bytes. */
export function blobOid(content: Uint8Array): string {
  return startBlobHash(content.byteLength).update(content).digest('hex')
}

// Large files are hashed chunk by chunk: the header needs only the size, known from fstat.
export function startBlobHash(size: number): Hash {
  return createHash('sha1').update(`blob ${size}\0`)
}

/** The git mode of a regular file: git looks at the owner's execute bit only. */
export function fileModeOf(permissions: number): GitFileMode {
  return (permissions & 0o100) !== 0 ? 0o100755 : 0o100644
}

export const symlinkMode: GitFileMode = 0o120000
