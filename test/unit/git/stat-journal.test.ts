import { appendFile, readFile, rm, truncate } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { commitChanges, initAuditRepo, snapshot, type AuditRepo } from '../../../src/git/index.js'
import { statJournalFile } from '../../../src/git/stat-journal.js'
import { createRepo, git, lsTree, put } from './fixtures.js'

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 150))

/** A snapshot plus one commit whose stat-cache changes went to the journal, all stats settled. */
async function journaled(): Promise<AuditRepo> {
  const { repo } = await createRepo()
  await put(repo, 'src/a.ts', 'a\n')
  await put(repo, 'src/deep/b.ts', 'b\n')
  await put(repo, 'c.ts', 'c\n')
  await snapshot(repo, { message: 'snapshot' })
  await settle()
  await put(repo, 'src/deep/b.ts', 'b2\n')
  await rm(`${repo.workDir}/c.ts`)
  await commitChanges(repo, { message: 'edit', scan: true })
  await settle()
  await commitChanges(repo, { message: 'settle', scan: true })
  return repo
}

/** A new AuditRepo for the same gitdir: its state comes from disk, as in a new process. */
async function reopened(repo: AuditRepo): Promise<AuditRepo> {
  return initAuditRepo({ gitdir: repo.gitdir, workDir: repo.workDir })
}

async function scanReads(repo: AuditRepo): Promise<string[]> {
  const reads: string[] = []
  await commitChanges(repo, { message: 'scan', scan: true, onRead: (p) => reads.push(p) })
  return reads
}

describe('stat cache journal', () => {
  it('records each commit as an appended line that a new process replays', async () => {
    const repo = await journaled()
    const lines = (await readFile(statJournalFile(repo.gitdir), 'utf8')).split('\n')
    expect(lines.filter(Boolean).length).toBeGreaterThan(0)
    const fresh = await reopened(repo)
    await put(fresh, 'src/a.ts', 'a3\n')
    expect(await scanReads(fresh)).toEqual(['src/a.ts'])
    expect(git(repo, 'cat-file', 'blob', 'HEAD:src/deep/b.ts')).toBe('b2\n')
    expect(lsTree(repo).has('c.ts')).toBe(false)
    git(repo, 'fsck', '--strict')
  })

  it('ignores a torn last line and rewrites the cache before appending again', async () => {
    const repo = await journaled()
    await appendFile(statJournalFile(repo.gitdir), '{"g":"0123","p":"ab')
    const fresh = await reopened(repo)
    await put(fresh, 'src/a.ts', 'a4\n')
    expect(await scanReads(fresh)).toEqual(['src/a.ts'])
    const text = await readFile(statJournalFile(repo.gitdir), 'utf8').catch(() => '')
    expect(text.includes('"p":"ab')).toBe(false)
    await settle()
    const again = await reopened(repo)
    expect((await scanReads(again)).filter((p) => p !== 'src/a.ts')).toEqual([])
  })

  it('falls back to the history when the torn line was the last commit', async () => {
    const repo = await journaled()
    const file = statJournalFile(repo.gitdir)
    await put(repo, 'src/a.ts', 'a5\n')
    await commitChanges(repo, { message: 'edit a', paths: ['src/a.ts'] })
    const text = await readFile(file, 'utf8')
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1
    await truncate(file, Buffer.byteLength(text.slice(0, lastStart + 20)))
    const fresh = await reopened(repo)
    await put(fresh, 'src/deep/b.ts', 'b6\n')
    const reads = await scanReads(fresh)
    expect(reads.sort()).toEqual(['src/a.ts', 'src/deep/b.ts'])
    expect(git(repo, 'cat-file', 'blob', 'HEAD:src/deep/b.ts')).toBe('b6\n')
    expect(git(repo, 'cat-file', 'blob', 'HEAD:src/a.ts')).toBe('a5\n')
    git(repo, 'fsck', '--strict')
  })
})
