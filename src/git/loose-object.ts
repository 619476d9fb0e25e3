import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { createDeflate, deflate } from 'node:zlib'
import { errnoOf } from '../shared/errors.js'
import { objectId, wrapObject, type GitObjectType } from './object-id.js'

const deflateAsync = promisify(deflate)
/** Bytes read at a time when a file is stored by streaming. */
const chunkBytes = 1024 * 1024

/**
 * Writes one loose object and returns its id. isomorphic-git's writer creates the object file in
 * place and later skips any path that exists, so a kill mid-write would leave a torn object that
 * no later commit repairs; here the object appears under its name only once complete (temp file
 * + rename, as git itself does). Level 1 compression is git's own default for loose objects.
 */
export async function writeLooseObject(
  gitdir: string,
  type: GitObjectType,
  content: Uint8Array,
): Promise<string> {
  const oid = objectId(type, content)
  const temp = tempPath(gitdir, oid.slice(2, 10))
  const data = await deflateAsync(wrapObject(type, content), { level: 1 })
  const handle = await open(temp, 'wx', 0o444)
  try {
    await handle.writeFile(data)
  } catch (error) {
    await handle.close()
    await rm(temp, { force: true })
    throw error
  }
  await handle.close()
  await placeObject(gitdir, temp, oid)
  return oid
}

/**
 * Stores `size` bytes of an open file as a loose blob without holding it in memory: one pass
 * reads it in chunks, hashes (the header needs only the size) and compresses into a temp file,
 * which then takes the object's name. Undefined when the file ended before `size` bytes (it
 * shrank while read); nothing is left behind then.
 */
export async function writeLooseBlobFrom(
  gitdir: string,
  source: FileHandle,
  size: number,
): Promise<string | undefined> {
  const temp = tempPath(gitdir, 'stream')
  const hash = createHash('sha1')
  const read = { complete: false }
  async function* chunks(): AsyncGenerator<Buffer> {
    const header = Buffer.from(`blob ${size}\0`)
    hash.update(header)
    yield header
    for (let offset = 0; offset < size;) {
      const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, size - offset))
      const { bytesRead } = await source.read(buffer, 0, buffer.length, offset)
      if (bytesRead === 0) return
      const chunk = buffer.subarray(0, bytesRead)
      hash.update(chunk)
      offset += bytesRead
      yield chunk
    }
    read.complete = true
  }
  try {
    await pipeline(
      chunks(),
      createDeflate({ level: 1 }),
      createWriteStream(temp, { flags: 'wx', mode: 0o444 }),
    )
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  if (!read.complete) {
    await rm(temp, { force: true })
    return undefined
  }
  const oid = hash.digest('hex')
  await placeObject(gitdir, temp, oid)
  return oid
}

/** A temp file name in objects/ (same filesystem as the objects, so the rename is atomic). */
function tempPath(gitdir: string, tag: string): string {
  const unique = `${process.pid}_${tag}_${Math.random().toString(36).slice(2)}`
  return path.join(gitdir, 'objects', `tmp_obj_${unique}`)
}

// The fan-out directory usually exists: create it only when the rename says it does not.
async function placeObject(gitdir: string, temp: string, oid: string): Promise<void> {
  const dir = path.join(gitdir, 'objects', oid.slice(0, 2))
  const file = path.join(dir, oid.slice(2))
  try {
    try {
      await rename(temp, file)
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error
      await mkdir(dir, { recursive: true })
      await rename(temp, file)
    }
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}
