import type { FileHandle } from 'node:fs/promises'

/** Writes chunks in order; a chunk of zeros is skipped (a hole), so sparse files stay sparse. */
export async function writeSparse(
  handle: FileHandle,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  let at = 0
  for await (const chunk of chunks) {
    if (!isZeros(chunk)) {
      for (let done = 0; done < chunk.byteLength;) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done, at + done)
        done += bytesWritten
      }
    }
    at += chunk.byteLength
  }
  await handle.truncate(at)
}

const ZEROS = Buffer.alloc(1024 * 1024)

function isZeros(chunk: Uint8Array): boolean {
  for (let at = 0; at < chunk.byteLength; at += ZEROS.length) {
    const n = Math.min(ZEROS.length, chunk.byteLength - at)
    if (!Buffer.from(chunk.buffer, chunk.byteOffset + at, n).equals(ZEROS.subarray(0, n)))
      return false
  }
  return true
}
