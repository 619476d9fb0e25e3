import { open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { resolveRef } from 'isomorphic-git'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import type { RepoReader } from './tree-read.js'

/** A held `<ref>.lock`: nobody else moves the ref until it is committed or released. */
export interface RefLock {
  commit(oid: string): Promise<void>
  release(): Promise<void>
}

// Git's own protocol: an exclusive lock file, a check that the ref did not move, then a rename.
export async function lockRef(reader: RepoReader, ref: string, expected: string): Promise<RefLock> {
  const gitdir = reader.gitdir
  const file = path.join(gitdir, ref)
  const lock = `${file}.lock`
  let handle
  try {
    handle = await open(lock, 'wx', 0o644)
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error
    throw new SafeCoderError(
      'USAGE',
      `Cannot revert: ${ref} in ${gitdir} is locked by another commit.`,
      {
        hint: 'Wait for the running command to finish, then retry.',
        cause: error,
      },
    )
  }
  let held = true
  const release = async (): Promise<void> => {
    if (!held) return
    held = false
    await handle.close().catch(() => undefined)
    await rm(lock, { force: true })
  }
  const current = await resolveRef({ fs: reader.fs, gitdir, ref }).catch(() => undefined)
  if (current !== expected) {
    await release()
    throw new SafeCoderError(
      'USAGE',
      `Cannot revert: ${ref} moved while the revert was prepared.`,
      {
        hint: 'Retry the revert.',
      },
    )
  }
  return {
    release,
    async commit(oid) {
      await handle.writeFile(`${oid}\n`)
      await handle.sync()
      await handle.close()
      held = false
      await rename(lock, file).catch(async (error: unknown) => {
        await rm(lock, { force: true })
        throw error
      })
    },
  }
}
