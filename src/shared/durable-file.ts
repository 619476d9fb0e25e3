import { constants } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import path from 'node:path'

// A rename is durable only once its directory is flushed.
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replaces a file so that a crash leaves either the old or the new content, never a torn mix:
 * write a uniquely named temp file in the same directory, fsync it, rename it over the target,
 * fsync the directory. `tempSuffix` lets a git ref's temp file end in `.lock`, which git skips.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; tempSuffix?: string } = {},
): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${Date.now()}${options.tempSuffix ?? '.tmp'}`,
  )
  const handle = await open(temp, 'wx', options.mode ?? 0o600)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  await syncDir(path.dirname(file))
}
