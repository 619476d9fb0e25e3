import { mkdir, realpath, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf, SafeCoderError } from '../shared/errors.js'
import { branchRef, readBranch } from './head-ref.js'

/** 100 MiB: larger mirror files are recorded as "too large" and never read. */
export const defaultMaxFileBytes = 100 * 2 ** 20

/**
 * A session's audit repository: a bare `gitdir` the sandbox cannot reach, recording `workDir`,
 * the host mirror the sandbox sees (hostile content).
 */
export interface AuditRepo {
  gitdir: string
  workDir: string
  maxFileBytes: number
  /** The device the mirror lives on: a file read from another was reached through a link. */
  dev: number
}

export interface InitAuditRepoOptions {
  gitdir: string
  workDir: string
  maxFileBytes?: number
}

// Creates (or reopens) the bare gitdir with nothing a git CLI could take from the mirror.
export async function openAuditRepo(options: InitAuditRepoOptions): Promise<AuditRepo> {
  const { dir: workDir, dev } = await existingDir(options.workDir)
  const gitdir = path.resolve(options.gitdir)
  await mkdir(gitdir, { recursive: true })
  const realGitdir = await realpath(gitdir)
  if (isInside(realGitdir, workDir) || isInside(workDir, realGitdir)) {
    throw new SafeCoderError(
      'USAGE',
      `The audit repository ${realGitdir} overlaps the mirror ${workDir}.`,
      {
        hint: 'Keep the gitdir outside the directory the sandbox sees.',
      },
    )
  }
  for (const dir of ['objects/pack', 'objects/info', 'refs/heads', 'refs/tags', 'safe-coder']) {
    await mkdir(path.join(realGitdir, dir), { recursive: true })
  }
  if ((await readBranch(realGitdir)) === undefined) {
    await writeFile(path.join(realGitdir, 'HEAD'), `ref: ${branchRef}\n`)
    await writeFile(
      path.join(realGitdir, 'config'),
      '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n',
    )
    await writeFile(path.join(realGitdir, 'description'), 'Safe Coder audit repository\n')
  }
  return {
    gitdir: realGitdir,
    workDir,
    maxFileBytes: options.maxFileBytes ?? defaultMaxFileBytes,
    dev,
  }
}

async function existingDir(dir: string): Promise<{ dir: string; dev: number }> {
  try {
    const real = await realpath(path.resolve(dir))
    const info = await stat(real)
    if (info.isDirectory()) return { dir: real, dev: info.dev }
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'ENOTDIR') throw error
  }
  throw new SafeCoderError('NOT_FOUND', `The session mirror ${dir} is not a directory.`, {
    hint: 'Copy the project in before recording it.',
    data: { workDir: dir },
  })
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}

/** The commit HEAD points at. @throws SafeCoderError NOT_FOUND before the snapshot. */
export async function readHead(repo: AuditRepo): Promise<string> {
  const head = await readBranch(repo.gitdir)
  if (head === undefined) {
    throw new SafeCoderError(
      'NOT_FOUND',
      `The audit repository ${repo.gitdir} has no commits yet.`,
      {
        hint: 'Take the snapshot (commit 0) first.',
      },
    )
  }
  return head
}

const queues = new Map<string, Promise<unknown>>()

// Commits of one repository must not interleave: each builds on the HEAD the previous one left
// (a revert too: it also writes into the mirror, which a commit's scan must not see half done).
export async function serialised<T>(repo: { gitdir: string }, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(repo.gitdir) ?? Promise.resolve()
  const run = previous.then(task, task)
  const settled = run.then(
    () => undefined,
    () => undefined,
  )
  queues.set(repo.gitdir, settled)
  try {
    return await run
  } finally {
    if (queues.get(repo.gitdir) === settled) queues.delete(repo.gitdir)
  }
}
