import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError } from '../shared/errors.js'
import { readCommitRecord, type RepoReader } from './tree-read.js'

const refName = /^(HEAD|refs\/[A-Za-z0-9._/-]+)$/
const shortOid = /^[0-9a-f]{4,40}$/
const fullOid = /^[0-9a-f]{40}$/
const maxSymbolicRefs = 5

// isomorphic-git takes a fifth of a second to load: only the rare reads below need it.
const loadIsomorphicGit = () => import('isomorphic-git')

// Users name commits the way git taught them: full or short ids, HEAD, refs, and `~n` / `^`.
export async function resolveRevision(reader: RepoReader, revision: string): Promise<string> {
  const match = /^(.*?)((?:~\d*|\^1?)*)$/.exec(revision)
  const base = match?.[1] ?? revision
  let oid = await resolveBase(reader, base, revision)
  for (const step of (match?.[2] ?? '').match(/~\d*|\^1?/g) ?? []) {
    const count = step.startsWith('~') && step.length > 1 ? Number(step.slice(1)) : 1
    for (let i = 0; i < count; i++) {
      const parent = (await readCommitRecord(reader, oid)).parents[0]
      if (parent === undefined) {
        throw new SafeCoderError('NOT_FOUND', `Revision ${revision} goes past the first commit.`, {
          hint: 'Commit 0 is the snapshot of the project; it has no parent.',
        })
      }
      oid = parent
    }
  }
  return oid
}

/** The branch HEAD points at (or `HEAD` itself when detached): the ref a new commit moves. */
export async function headRefName(reader: RepoReader): Promise<string> {
  const { resolveRef } = await loadIsomorphicGit()
  const target = await resolveRef({ fs: reader.fs, gitdir: reader.gitdir, ref: 'HEAD', depth: 2 })
  return refName.test(target) && !target.split('/').includes('..') ? target : 'HEAD'
}

async function resolveBase(reader: RepoReader, base: string, revision: string): Promise<string> {
  const lower = base.toLowerCase()
  try {
    if (shortOid.test(lower)) {
      const oid =
        lower.length === 40
          ? lower
          : await (
              await loadIsomorphicGit()
            ).expandOid({
              fs: reader.fs,
              gitdir: reader.gitdir,
              oid: lower,
              cache: reader.cache,
            })
      await readCommitRecord(reader, oid)
      return oid
    }
    const ref = base === 'HEAD' || base.startsWith('refs/') ? base : `refs/heads/${base}`
    if (!refName.test(ref) || ref.split('/').includes('..')) throw new Error('not a ref name')
    return (await readLooseRef(reader.gitdir, ref)) ?? (await resolveRefSlowly(reader, ref))
  } catch (error) {
    if (error instanceof SafeCoderError && error.code !== 'NOT_FOUND') throw error
    throw new SafeCoderError(
      'NOT_FOUND',
      `No commit ${JSON.stringify(revision)} in the audit repository ${reader.gitdir}.`,
      { cause: error, hint: 'Run `safe-coder log <session>` to list the commits.' },
    )
  }
}

/**
 * A ref kept as a file, as the audit repository keeps HEAD and its branch; anything else
 * (packed refs, a missing ref) is left to isomorphic-git by answering undefined.
 */
async function readLooseRef(gitdir: string, ref: string): Promise<string | undefined> {
  let name = ref
  for (let hop = 0; hop < maxSymbolicRefs; hop++) {
    let text: string
    try {
      text = (await readFile(path.join(gitdir, name), 'utf8')).trim()
    } catch {
      return undefined
    }
    if (fullOid.test(text)) return text
    const target = /^ref: (.+)$/.exec(text)?.[1]
    if (target === undefined || !refName.test(target) || target.split('/').includes('..'))
      return undefined
    name = target
  }
  return undefined
}

async function resolveRefSlowly(reader: RepoReader, ref: string): Promise<string> {
  const { resolveRef } = await loadIsomorphicGit()
  return resolveRef({ fs: reader.fs, gitdir: reader.gitdir, ref })
}
