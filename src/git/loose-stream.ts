import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { createInflate } from 'node:zlib'
import { errnoOf } from '../shared/errors.js'
import { CorruptObjectError, toReadError } from './object-read-error.js'

/** What a streamed blob is read in: bounded memory whatever the blob's size. */
const CHUNK_BYTES = 1024 * 1024
/** A loose object's header ("blob <size>\0") is at most this long. */
const MAX_HEADER_BYTES = 32

/**
 * A loose blob's content in chunks, inflated as it is read, or undefined when `oid` is not a
 * loose object (it may be in a pack; the caller reads it whole then). The header must say
 * `blob` and the stream must inflate to exactly the size it declares; anything else is a
 * CorruptObjectError, and so is content that does not hash to `oid` (found after the last
 * chunk: a caller writes to a temp file and keeps it only once the stream ended cleanly).
 */
export async function streamLooseBlob(
  gitdir: string,
  oid: string,
): Promise<AsyncGenerator<Buffer> | undefined> {
  if (!/^[0-9a-f]{40}$/.test(oid)) throw new CorruptObjectError(`${oid} is not an object id`)
  const file = path.join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2))
  let handle
  try {
    // Non-blocking, so a FIFO planted in place of an object cannot hang the open.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close()
    throw new CorruptObjectError('loose object is not a regular file')
  }
  return inflateBlob(oid, handle.createReadStream({ highWaterMark: CHUNK_BYTES }))
}

async function* inflateBlob(oid: string, compressed: Readable): AsyncGenerator<Buffer> {
  const hash = createHash('sha1')
  const inflate = createInflate({ chunkSize: CHUNK_BYTES })
  compressed.pipe(inflate)
  compressed.on('error', (error: Error) => inflate.destroy(error))
  let header: Buffer | undefined = Buffer.alloc(0)
  let declared = 0
  let seen = 0
  try {
    for await (const piece of inflate as AsyncIterable<Buffer>) {
      let chunk = piece
      if (header !== undefined) {
        const joined: Buffer = Buffer.concat([header, chunk])
        const end = joined.indexOf(0)
        if (end === -1) {
          if (joined.length > MAX_HEADER_BYTES) throw new CorruptObjectError('no object header')
          header = joined
          continue
        }
        const match = /^blob (0|[1-9][0-9]{0,15})$/.exec(joined.subarray(0, end).toString('latin1'))
        if (match === null) throw new CorruptObjectError('the object is not a blob')
        declared = Number(match[1])
        hash.update(joined.subarray(0, end + 1))
        header = undefined
        chunk = joined.subarray(end + 1)
      }
      seen += chunk.length
      if (seen > declared) {
        throw new CorruptObjectError(`inflates past the declared ${declared} bytes`)
      }
      hash.update(chunk)
      if (chunk.length > 0) yield chunk
    }
  } catch (error) {
    if (error instanceof CorruptObjectError) throw error
    const why = error instanceof Error ? error.message : String(error)
    throw new CorruptObjectError(`zlib data is invalid (${why})`, { cause: error })
  } finally {
    inflate.destroy()
    compressed.destroy()
  }
  if (header !== undefined) throw new CorruptObjectError('no object header')
  if (seen !== declared) {
    throw new CorruptObjectError(`inflates to ${seen} bytes, declared ${declared}`)
  }
  const actual = hash.digest('hex')
  if (actual !== oid) throw new CorruptObjectError(`content hashes to ${actual}`)
}

/**
 * {@link streamLooseBlob} with its failures said as every object read says them (SafeCoderError
 * naming the object and the repository), whether they come at the open or mid-stream.
 */
export async function streamBlobFrom(
  gitdir: string,
  oid: string,
): Promise<AsyncIterable<Buffer> | undefined> {
  const chunks = await streamLooseBlob(gitdir, oid).catch((error: unknown) => {
    throw toReadError(gitdir, oid, error)
  })
  return chunks === undefined ? undefined : said(gitdir, oid, chunks)
}

async function* said(gitdir: string, oid: string, chunks: AsyncIterable<Buffer>) {
  try {
    yield* chunks
  } catch (error) {
    throw toReadError(gitdir, oid, error)
  }
}
