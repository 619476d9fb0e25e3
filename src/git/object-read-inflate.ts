import { promisify } from 'node:util'
import { inflate, inflateSync, type ZlibOptions } from 'node:zlib'
import { CorruptObjectError, OversizedObjectError } from './object-read-error.js'

const inflateAsync = promisify<Uint8Array, ZlibOptions, Buffer>(inflate)
/** Small streams inflate faster in place than through the thread pool. */
const syncInputBelow = 64 * 1024
const syncOutputBelow = 1024 * 1024

// The cap bounds the output as it is produced, so a zlib bomb stops at `maxBytes`.
/** Inflates one zlib stream into at most `maxBytes` bytes; input after the stream is ignored. */
export async function inflateLimited(input: Uint8Array, maxBytes: number): Promise<Buffer> {
  const options = { maxOutputLength: Math.max(maxBytes, 1) }
  try {
    return input.byteLength < syncInputBelow || maxBytes < syncOutputBelow
      ? inflateSync(input, options)
      : await inflateAsync(input, options)
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new OversizedObjectError(`inflates past ${maxBytes} bytes`, { cause: error })
    }
    const why = error instanceof Error ? error.message : String(error)
    throw new CorruptObjectError(`zlib data is invalid (${why})`, { cause: error })
  }
}

/** Inflates a stream that must produce exactly `size` bytes, as a pack entry declares. */
export async function inflateExactly(input: Uint8Array, size: number): Promise<Buffer> {
  let out: Buffer
  try {
    out = await inflateLimited(input, size)
  } catch (error) {
    if (!(error instanceof OversizedObjectError)) throw error
    throw new CorruptObjectError(`inflates past the declared ${size} bytes`, { cause: error })
  }
  if (out.byteLength !== size) {
    throw new CorruptObjectError(`inflates to ${out.byteLength} bytes, declared ${size}`)
  }
  return out
}
