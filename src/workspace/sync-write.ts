import { constants } from 'node:fs'
import { copyFile, lstat, mkdir, open, rename, rm, rmdir, symlink, unlink } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import { writeSparse } from '../shared/sparse-write.js'

const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** How a regular file is written: explicit permissions, or git's default under the umask. */
export type Permissions = number | { executable: boolean }

/**
 * Replaces `target` with `content` so a crash leaves the old or the new file, never a torn mix:
 * the bytes go to `temp` (same directory), are fsync-ed, then renamed over the target.
 * Explicit permissions are masked to 0o777, so setuid, setgid and sticky never survive.
 */
export async function replaceWithFile(
  target: string,
  temp: string,
  content: Uint8Array | { copyOf: string } | { chunks: AsyncIterable<Uint8Array> },
  permissions: Permissions,
): Promise<void> {
  await removeLeftover(temp)
  try {
    if ('copyOf' in content) await copyFile(content.copyOf, temp, constants.COPYFILE_EXCL)
    const createMode =
      typeof permissions === 'number' ? 0o600 : permissions.executable ? 0o777 : 0o666
    const handle = await open(
      temp,
      'copyOf' in content ? constants.O_WRONLY | constants.O_NOFOLLOW : createFlags,
      createMode,
    )
    try {
      if ('chunks' in content) await writeSparse(handle, content.chunks)
      else if (!('copyOf' in content)) await handle.writeFile(content)
      if (typeof permissions === 'number') await handle.chmod(permissions & 0o777)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, target)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}

/** Replaces `target` with a symlink, atomically: the link is made at `temp`, then renamed. */
export async function replaceWithSymlink(
  target: string,
  temp: string,
  linkTarget: Buffer,
): Promise<void> {
  await removeLeftover(temp)
  try {
    await symlink(linkTarget, temp)
    await rename(temp, target)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}

/** Removes a file or symlink (never a directory); a missing one (or a parent that is a file) is fine. */
export async function removeEntry(target: string): Promise<void> {
  try {
    if ((await lstat(target)).isDirectory()) {
      throw Object.assign(new Error(`${target} is a directory`), { code: 'EISDIR' })
    }
    await unlink(target)
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'ENOTDIR') throw error
  }
}

/** A temp file of ours left by a crash; never a directory. */
export async function removeLeftover(temp: string): Promise<void> {
  await removeEntry(temp)
}

/** Creates one directory (its parent must exist); an existing real directory is fine. */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir)
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST' || !(await lstat(dir)).isDirectory()) throw error
  }
}

/** Removes a directory we created if it is empty again; anything else leaves it. */
export async function removeDirIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir)
  } catch (error) {
    const errno = errnoOf(error)
    if (errno !== 'ENOENT' && errno !== 'ENOTEMPTY' && errno !== 'EEXIST' && errno !== 'ENOTDIR') {
      throw error
    }
  }
}

export { syncDir } from '../shared/durable-file.js'

/** The temp name for change `index` of sync `id`: short, fixed, so recovery can find it. */
export function tempPathFor(
  projectDir: string,
  rel: string,
  id: string,
  index: number | string,
): string {
  return path.join(projectDir, path.posix.dirname(rel), `.${id}-${index}.tmp`)
}

/** Creates the missing ancestors of `rel`, one level at a time, never through a symlink. */
export async function makeParents(projectDir: string, rel: string): Promise<void> {
  const segments = rel.split('/').slice(0, -1)
  for (let depth = 1; depth <= segments.length; depth++) {
    await makeDir(path.join(projectDir, ...segments.slice(0, depth)))
  }
}
