import { stat, statfs } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError, errnoOf } from '../../shared/errors.js'
import { formatBytes } from '../../shared/format.js'

/**
 * A sandbox disk is a sparse file: it takes host space only as the sandbox writes. Before a
 * sandbox may write, the host must have room for the file to grow to its full size, so a
 * sandbox that fills its own disk never fills the host's (one session at a time; two at once
 * each need their own room, which this check cannot reserve).
 * @throws SafeCoderError DISK_FULL naming the key that sets the size.
 */
export async function assertRoomFor(file: string, sizeBytes: number, key: string): Promise<void> {
  const allocated = await stat(file).then(
    (s) => s.blocks * 512,
    (error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return 0
      throw error
    },
  )
  const fs = await statfs(path.dirname(file))
  const free = fs.bavail * fs.bsize
  const needed = sizeBytes - allocated
  if (free >= needed) return
  throw new SafeCoderError(
    'DISK_FULL',
    `Not enough free space for the sandbox disk ${file}: it may grow to ${formatBytes(sizeBytes)} (${key}) and needs ${formatBytes(needed)} more, but the host has ${formatBytes(free)} free there.`,
    {
      hint: `Free space on that file system (df -h ${path.dirname(file)}), or lower ${key}.`,
      data: { file, key, sizeBytes, neededBytes: needed, freeBytes: free },
    },
  )
}
