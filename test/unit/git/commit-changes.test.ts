import { chmod, rm, symlink, unlink } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { recordChanges } from '../../../src/git/commit-changes.js'
import {
  blobOid,
  commitChanges,
  headCommit,
  manifestAt,
  parseTrailers,
  snapshot,
} from '../../../src/git/index.js'
import { createRepo, git, lsTree, put } from './fixtures.js'

async function seeded(): Promise<Awaited<ReturnType<typeof createRepo>>> {
  const created = await createRepo()
  const { repo } = created
  await put(repo, 'src/a.ts', 'a\n')
  await put(repo, 'src/b.ts', 'b\n')
  await put(repo, 'src/deep/c.ts', 'c\n')
  await put(repo, 'tool.sh', 'echo\n')
  await put(repo, 'docs/readme.md', 'docs\n')
  await snapshot(repo, { message: 'snapshot' })
  return created
}

describe('commitChanges', () => {
  it('commits reported modifications, additions, deletions, mode and type changes', async () => {
    const { repo } = await seeded()
    const base = await headCommit(repo)
    await put(repo, 'src/a.ts', 'a changed\n')
    await put(repo, 'src/new/n.ts', 'new\n')
    await unlink(path.join(repo.workDir, 'src/b.ts'))
    await chmod(path.join(repo.workDir, 'tool.sh'), 0o755)
    await rm(path.join(repo.workDir, 'docs'), { recursive: true })
    await symlink('../etc/shadow', path.join(repo.workDir, 'docs'))
    const paths = ['src/a.ts', 'src/new/n.ts', 'src/b.ts', 'tool.sh', 'docs/readme.md', '../x']
    const result = await commitChanges(repo, { message: 'edit_file src', paths })
    expect(result?.changed).toEqual([
      { path: 'docs', status: 'added' },
      { path: 'docs/readme.md', status: 'deleted' },
      { path: 'src/a.ts', status: 'modified' },
      { path: 'src/b.ts', status: 'deleted' },
      { path: 'src/new/n.ts', status: 'added' },
      { path: 'tool.sh', status: 'modified' },
    ])
    expect(result?.skipped).toEqual([{ path: '../x', reason: 'unsafe-name' }])
    expect(git(repo, 'rev-parse', 'HEAD~1').trim()).toBe(base)
    git(repo, 'fsck', '--strict', '--no-dangling')
    const tree = lsTree(repo)
    expect(tree.get('docs')).toBe(`120000 ${blobOid(Buffer.from('../etc/shadow'))}`)
    expect(tree.get('tool.sh')?.startsWith('100755')).toBe(true)
    expect(tree.has('src/b.ts')).toBe(false)
    expect(git(repo, 'cat-file', 'blob', 'HEAD:src/a.ts')).toBe('a changed\n')
    expect(Object.keys(await manifestAt(repo, 'HEAD')).sort()).toEqual([...tree.keys()].sort())
  })

  it('reports a file that became a symlink as a type change', async () => {
    const { repo } = await seeded()
    await unlink(path.join(repo.workDir, 'src/a.ts'))
    await symlink('b.ts', path.join(repo.workDir, 'src/a.ts'))
    const result = await commitChanges(repo, { message: 'ln', paths: ['src/a.ts'] })
    expect(result?.changed).toEqual([{ path: 'src/a.ts', status: 'typechange' }])
  })

  it('finds shell side effects by scanning, and makes no commit when nothing changed', async () => {
    const { repo } = await seeded()
    const head = await headCommit(repo)
    expect(await commitChanges(repo, { message: 'noop', scan: true })).toBeUndefined()
    expect(await commitChanges(repo, { message: 'noop', paths: ['src/a.ts'] })).toBeUndefined()
    expect(await headCommit(repo)).toBe(head)
    await put(repo, 'src/deep/c.ts', 'c2\n')
    await put(repo, 'out/x/y.txt', 'y\n')
    await rm(path.join(repo.workDir, 'docs'), { recursive: true })
    const result = await commitChanges(repo, { message: 'bash make', scan: true })
    expect(result?.changed).toEqual([
      { path: 'docs/readme.md', status: 'deleted' },
      { path: 'out/x/y.txt', status: 'added' },
      { path: 'src/deep/c.ts', status: 'modified' },
    ])
    git(repo, 'fsck', '--strict', '--no-dangling')
    expect(git(repo, 'diff', '--name-only', 'HEAD~1', 'HEAD').split('\n').filter(Boolean)).toEqual([
      'docs/readme.md',
      'out/x/y.txt',
      'src/deep/c.ts',
    ])
  })

  it('reads only files whose stat changed', async () => {
    const { repo } = await seeded()
    await new Promise((resolve) => setTimeout(resolve, 150))
    const warm: string[] = []
    await commitChanges(repo, { message: 'settle', scan: true, onRead: (p) => warm.push(p) })
    await new Promise((resolve) => setTimeout(resolve, 150))
    await put(repo, 'src/a.ts', 'a2\n')
    const reads: string[] = []
    const result = await commitChanges(repo, {
      message: 's',
      scan: true,
      onRead: (p) => reads.push(p),
    })
    expect(result?.changed).toEqual([{ path: 'src/a.ts', status: 'modified' }])
    expect(reads).toEqual(['src/a.ts'])
    const again: string[] = []
    await commitChanges(repo, { message: 's', scan: true, onRead: (p) => again.push(p) })
    expect(again.filter((p) => p !== 'src/a.ts')).toEqual([])
  })

  it('round-trips the message subject and trailers', async () => {
    const { repo } = await seeded()
    await put(repo, 'src/a.ts', 'x\n')
    const trailers = { Session: 'abc', Call: 'c-7', Exit: '0', Duration: '12ms' }
    await commitChanges(repo, { message: 'bash: npm test\nignored', trailers, paths: ['src/a.ts'] })
    const message = git(repo, 'log', '-1', '--format=%B')
    expect(message.split('\n')[0]).toBe('bash: npm test')
    expect(parseTrailers(message)).toEqual(trailers)
    expect(git(repo, 'log', '-1', '--format=%(trailers:key=Call,valueonly)').trim()).toBe('c-7')
  })

  it('stores control characters from the arguments as visible escapes (git fsck stays clean)', async () => {
    const { repo } = await seeded()
    await put(repo, 'src/a.ts', 'y\n')
    await commitChanges(repo, {
      message: 'write_file: nul\u0000name \u001b[2J',
      trailers: { Call: 'c\u0000d' },
      paths: ['src/a.ts'],
    })
    const message = git(repo, 'log', '-1', '--format=%B')
    expect(message.split('\n')[0]).toBe('write_file: nul^@name ^[[2J')
    expect(parseTrailers(message)).toEqual({ Call: 'c^@d' })
    git(repo, 'fsck', '--strict')
  })

  it('leaves HEAD on a complete commit when interrupted before HEAD moves', async () => {
    const { repo } = await seeded()
    const head = await headCommit(repo)
    await put(repo, 'src/a.ts', 'lost?\n')
    const crash = recordChanges(
      repo,
      { message: 'crash', paths: ['src/a.ts'] },
      {
        beforeHeadMoves: () => {
          throw new Error('killed')
        },
      },
    )
    await expect(crash).rejects.toThrow('killed')
    expect(await headCommit(repo)).toBe(head)
    git(repo, 'fsck', '--strict')
    const result = await commitChanges(repo, { message: 'retry', paths: ['src/a.ts'] })
    expect(result?.changed).toEqual([{ path: 'src/a.ts', status: 'modified' }])
    expect(git(repo, 'cat-file', 'blob', 'HEAD:src/a.ts')).toBe('lost?\n')
  })

  it('rebuilds its cache from the history when the stat cache is gone', async () => {
    const { repo } = await seeded()
    await rm(path.join(repo.gitdir, 'safe-coder', 'stat-cache.json'))
    const reopened = { ...repo }
    await put(repo, 'src/b.ts', 'b2\n')
    const result = await commitChanges(reopened, { message: 'scan', scan: true })
    expect(result?.changed).toEqual([{ path: 'src/b.ts', status: 'modified' }])
    git(repo, 'fsck', '--strict')
  })
})
