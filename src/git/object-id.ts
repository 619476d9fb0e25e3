import { createHash } from 'node:crypto'

export type GitObjectType = 'blob' | 'tree' | 'commit'

/** The bytes git hashes and stores for an object: "<type> <size>\0" followed by the content. */
export function wrapObject(type: GitObjectType, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${type} ${content.byteLength}\0`), content])
}

// Object ids are sha1 over the wrapped form; computed here so no object has to be written first.
export function objectId(type: GitObjectType, content: Uint8Array): string {
  return createHash('sha1').update(`${type} ${content.byteLength}\0`).update(content).digest('hex')
}

// The manifest, the audit repository and the host compare files by this id without re-reading.
/** Git's blob id of `content` (what `git hash-object` prints). */
export function blobOid(content: Uint8Array): string {
  return objectId('blob', content)
}
