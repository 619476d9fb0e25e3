import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import { writeFileAtomic } from '../shared/durable-file.js'

/** The branch HEAD names in every audit repository. */
export const branchRef = 'refs/heads/main'

/** The commit the branch points at, or undefined before the snapshot. */
export async function readBranch(gitdir: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path.join(gitdir, branchRef), 'utf8')).trim()
    return /^[0-9a-f]{40}$/.test(text) ? text : undefined
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Moves the branch to `commit` by renaming a complete, fsynced file over the ref: a kill leaves
 * the old or the new id, never an empty ref (isomorphic-git's writeRef truncates in place).
 */
export async function moveBranch(gitdir: string, commit: string): Promise<void> {
  await writeFileAtomic(path.join(gitdir, branchRef), `${commit}\n`, {
    mode: 0o644,
    tempSuffix: '.lock',
  })
}
