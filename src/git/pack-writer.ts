import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { crc32, deflate } from 'node:zlib'
import { objectId, type GitObjectType } from './object-id.js'
import { encodePackIndex, type PackedObject } from './pack-index.js'
import { syncDir } from '../shared/durable-file.js'

const deflateAsync = promisify(deflate)
const typeCodes: Record<GitObjectType, number> = { commit: 1, tree: 2, blob: 3 }

/**
 * Collects many objects into one pack (format 2) and its index: a snapshot of thousands of files
 * costs two file creations instead of one per object. Objects may be added concurrently; each
 * gets its place in the file when its compressed bytes are ready.
 */
export interface PackWriter {
  /** Compresses and appends the object (once per id) and returns its id. */
  add(type: GitObjectType, content: Uint8Array): Promise<string>
  /** Writes header, trailer and index, then moves both into objects/pack (the index last). */
  finish(): Promise<{ name: string; objects: number } | undefined>
  /** Removes the temporary pack after a failure. */
  discard(): Promise<void>
}

// One pack per snapshot; loose objects would cost a file creation each on slow disks.
export async function createPackWriter(gitdir: string): Promise<PackWriter> {
  const dir = path.join(gitdir, 'objects', 'pack')
  const temp = path.join(dir, `tmp_pack_${process.pid}_${Date.now().toString(36)}`)
  const handle = await open(temp, 'wx+', 0o444)
  const objects = new Map<string, PackedObject>()
  const reserved = new Set<string>()
  const pending = new Set<Promise<unknown>>()
  let end = 12
  let closed = false

  async function write(oid: string, type: GitObjectType, content: Uint8Array): Promise<void> {
    const header = typeSizeHeader(typeCodes[type], content.byteLength)
    const body = await deflateAsync(content, { level: 1 })
    const offset = end
    end += header.byteLength + body.byteLength
    objects.set(oid, { oid, offset, crc: crc32(body, crc32(header)) })
    await handle.write(
      Buffer.concat([header, body]),
      0,
      header.byteLength + body.byteLength,
      offset,
    )
  }

  return {
    async add(type, content) {
      const oid = objectId(type, content)
      if (reserved.has(oid)) return oid
      reserved.add(oid)
      const job = write(oid, type, content)
      pending.add(job)
      try {
        await job
      } finally {
        pending.delete(job)
      }
      return oid
    },
    async finish() {
      await Promise.all(pending)
      const header = Buffer.alloc(12)
      header.write('PACK', 0, 'latin1')
      header.writeUInt32BE(2, 4)
      header.writeUInt32BE(objects.size, 8)
      await handle.write(header, 0, 12, 0)
      const sha = await hashFile(temp, end)
      await handle.write(sha, 0, 20, end)
      await handle.sync()
      await handle.close()
      closed = true
      if (objects.size === 0) {
        await rm(temp, { force: true })
        return undefined
      }
      const name = `pack-${sha.toString('hex')}`
      const idxTemp = `${temp}.idx`
      const idx = await open(idxTemp, 'wx', 0o444)
      try {
        await idx.writeFile(encodePackIndex([...objects.values()], sha))
        await idx.sync()
      } finally {
        await idx.close()
      }
      await rename(temp, path.join(dir, `${name}.pack`))
      await rename(idxTemp, path.join(dir, `${name}.idx`))
      await syncDir(dir)
      return { name, objects: objects.size }
    },
    async discard() {
      await Promise.allSettled(pending)
      if (!closed) await handle.close().catch(() => undefined)
      closed = true
      await rm(temp, { force: true })
      await rm(`${temp}.idx`, { force: true })
    },
  }
}

/** Pack object header: type in bits 4–6 of the first byte, size in 4 + 7·n bits, little-endian. */
function typeSizeHeader(type: number, size: number): Buffer {
  const bytes: number[] = []
  let rest = Math.floor(size / 16)
  let byte = (type << 4) | (size & 0x0f)
  while (rest > 0) {
    bytes.push(byte | 0x80)
    byte = rest & 0x7f
    rest = Math.floor(rest / 128)
  }
  bytes.push(byte)
  return Buffer.from(bytes)
}

async function hashFile(file: string, length: number): Promise<Buffer> {
  const hash = createHash('sha1')
  for await (const chunk of createReadStream(file, {
    start: 0,
    end: length - 1,
    highWaterMark: 1 << 20,
  })) {
    hash.update(chunk as Buffer)
  }
  return hash.digest()
}
