import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { onTestFinished } from 'vitest'
import { initAuditRepo, type AuditRepo } from '../../../src/git/index.js'

/** A fresh mirror and gitdir side by side in a temp dir, removed after the test. */
export async function createRepo(
  maxFileBytes?: number,
): Promise<{ repo: AuditRepo; root: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-git-'))
  onTestFinished(() => rm(root, { recursive: true, force: true }))
  const workDir = path.join(root, 'work')
  await mkdir(workDir)
  const repo = await initAuditRepo({
    gitdir: path.join(root, 'audit.git'),
    workDir,
    ...(maxFileBytes === undefined ? {} : { maxFileBytes }),
  })
  return { repo, root }
}

export async function put(repo: AuditRepo, rel: string, content: string | Buffer): Promise<void> {
  const file = path.join(repo.workDir, rel)
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, content)
}

/** The real git CLI against the audit gitdir (tests only: src/ never runs git). */
export function git(repo: AuditRepo, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', repo.gitdir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  })
}

/** `git ls-tree -r` as path → "mode oid", paths unquoted (-z). */
export function lsTree(repo: AuditRepo, commit = 'HEAD'): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of git(repo, 'ls-tree', '-r', '-z', commit).split('\0')) {
    const match = /^(\d+) blob ([0-9a-f]{40})\t(.*)$/s.exec(line)
    if (match !== null) out.set(match[3] as string, `${match[1] as string} ${match[2] as string}`)
  }
  return out
}

/** A sparse file of `size` bytes (no disk) with a mark at both ends. */
export async function sparseFile(file: string, size: number, mark: string): Promise<void> {
  const handle = await open(file, 'w')
  try {
    await handle.write(Buffer.from(mark), 0, mark.length, 0)
    await handle.write(Buffer.from(mark), 0, mark.length, size - mark.length)
    await handle.truncate(size)
  } finally {
    await handle.close()
  }
}
