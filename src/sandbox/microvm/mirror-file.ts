import { open, rename, rm } from 'node:fs/promises'
import { dataRuns } from '../../workspace/copy-sparse.js'
import type { FileReceiver } from '../agent-channel/types.js'

/**
 * Receives a pulled file into `temp` beside its mirror place and renames it over `target` on
 * commit (never written through a link: the rename replaces whatever is there). Blocks of
 * zeros are left as holes, so a sparse file in the guest stays sparse in the mirror.
 */
export async function receiveIntoMirror(
  target: string,
  temp: string,
  mode: number,
  /** The file's length when it is not the bytes written (a stand-in's). */
  length?: number,
): Promise<FileReceiver> {
  // A temp left by a pull that was killed: the name is ours (the guest's own is refused).
  await rm(temp, { force: true })
  const handle = await open(temp, 'wx', 0o600)
  let offset = 0
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await handle.close()
  }
  return {
    async write(chunk) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      for (const [start, end] of dataRuns(bytes)) {
        await handle.write(bytes, start, end - start, offset + start)
      }
      offset += chunk.byteLength
    },
    async commit() {
      try {
        await handle.truncate(length ?? offset)
        await handle.chmod(mode & 0o777)
        await handle.sync()
        await close()
        await rename(temp, target)
      } catch (error) {
        await close().catch(() => undefined)
        await rm(temp, { force: true })
        throw error
      }
    },
    async discard() {
      await close().catch(() => undefined)
      await rm(temp, { force: true })
    },
  }
}

/**
 * Stands in for a guest file over the size cap, which never leaves the guest: a sparse file of
 * its size and mode (no disk), so the history records the same "too large" placeholder for it
 * as for a container's file. Its bytes are not the guest's; sync-back never applies a too-large
 * file.
 */
export async function standInForTooLarge(
  target: string,
  temp: string,
  size: number,
  mode: number,
): Promise<void> {
  await (await receiveIntoMirror(target, temp, mode, size)).commit()
}

/** A receiver that takes the bytes of a file that cannot be placed, and keeps none of them. */
export const dropFile: FileReceiver = {
  write: () => Promise.resolve(),
  commit: () => Promise.resolve(),
  discard: () => Promise.resolve(),
}
