import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import fs from 'node:fs'
import path from 'node:path'
import { writeBlob, writeCommit, writeRef, writeTree } from 'isomorphic-git'
import { describe, expect, test } from 'vitest'
import { diffCommits, formatStat, formatUnifiedDiff } from '../../../src/git/diff.js'
import { findRootCommit, readLog } from '../../../src/git/log.js'
import { createCliRepo } from './cli-repo.js'

/** A bare audit repository with its work dir, filled with the git CLI. */
function createRepo() {
  return createCliRepo('safe-coder-log-diff-', { keepFinalNewline: true })
}

const trailers = (call: number) =>
  `\n\nSession: s-1\nCall: c-${call}\nExit: 0\nDuration: ${call * 10}ms`

const source = [
  'import { thing } from "./thing.js"',
  '',
  'export function alpha(x: number): number {',
  '  const a = x + 1',
  '  const b = a * 2',
  '  const c = b - 3',
  '  return c',
  '}',
  '',
  'function beta(y: number): number {',
  '  const p = y + 1',
  '  const q = p * 2',
  '  const r = q - 3',
  '  const s = r / 4',
  '  return s',
  '}',
  '',
].join('\n')

/** git's output with `index` lines kept (ours abbreviates to 7 characters, as git does here). */
async function gitDiff(repo: Awaited<ReturnType<typeof createRepo>>, ...args: string[]) {
  return repo.git('diff', '--no-color', '--no-renames', ...args)
}

describe('readLog', () => {
  test('lists commits newest first with trailers and numstat-equal file lists', async () => {
    const repo = await createRepo()
    const c0 = await repo.commit('snapshot', { 'src/a.ts': source, 'README.md': 'hello\n' })
    const c1 = await repo.commit(`write_file src/a.ts${trailers(1)}`, {
      'src/a.ts': source.replace('a * 2', 'a * 3').replace('r / 4', 'r / 5\n  // done'),
      'src/new.ts': 'one\ntwo\n',
    })
    const c2 = await repo.commit(`bash rm README.md\n\nRemoved the readme.${trailers(2)}`, {
      'README.md': null,
      'bin.dat': Buffer.from([1, 0, 2, 3]),
    })
    const log = await readLog(repo)
    expect(log.map((c) => c.oid)).toEqual([c2, c1, c0])
    expect(log[0]).toMatchObject({
      parent: c1,
      subject: 'bash rm README.md',
      body: 'Removed the readme.',
      trailers: { Session: 's-1', Call: 'c-2', Exit: '0', Duration: '20ms' },
    })
    expect(log[2]?.parent).toBeUndefined()
    expect(log[2]?.trailers).toEqual({})
    for (const commit of log) {
      const against = commit.parent ?? '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
      const numstat = await repo.git('diff', '--numstat', '--no-renames', against, commit.oid)
      const expected = numstat
        .trim()
        .split('\n')
        .map((line) => {
          const [added = '', removed = '', file = ''] = line.split('\t')
          return [file, added === '-' ? 0 : Number(added), removed === '-' ? 0 : Number(removed)]
        })
      expect(commit.files.map((f) => [f.path, f.added, f.removed])).toEqual(expected)
    }
    expect(log[0]?.files.map((f) => [f.path, f.status, f.binary])).toEqual([
      ['README.md', 'deleted', false],
      ['bin.dat', 'added', true],
    ])
    expect(await readLog(repo, { limit: 1 })).toHaveLength(1)
    expect((await readLog(repo, { ref: 'HEAD~1' }))[0]?.oid).toBe(c1)
    expect(await findRootCommit(repo)).toBe(c0)
  })

  test('with maxFiles reads the first files of each commit by path and counts the rest', async () => {
    const repo = await createRepo()
    const files = Object.fromEntries(
      Array.from({ length: 7 }, (_, i) => [`dir-${i % 2}/f-${i}.txt`, `line ${i}\n`]),
    )
    await repo.commit('snapshot', files)
    await repo.commit(`edit${trailers(1)}`, { 'dir-1/f-1.txt': 'changed\n' })
    const full = await readLog(repo)
    const short = await readLog(repo, { maxFiles: 3 })
    expect(short[0]?.files).toEqual(full[0]?.files)
    expect(short[0]?.moreFiles).toBeUndefined()
    expect(short[1]?.files).toEqual(full[1]?.files.slice(0, 3))
    expect(short[1]?.files.map((f) => f.path)).toEqual([
      'dir-0/f-0.txt',
      'dir-0/f-2.txt',
      'dir-0/f-4.txt',
    ])
    expect(short[1]?.moreFiles).toBe(4)
    expect(full[1]?.moreFiles).toBeUndefined()
  })
})

describe('diffCommits + formatUnifiedDiff', () => {
  test('matches git diff for edits, additions, deletions and missing final newlines', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { 'src/a.ts': source, 'gone.txt': 'bye\n', 'tail.txt': 'x\ny' })
    await repo.commit('edit', {
      'src/a.ts': source.replace('a * 2', 'a * 3').replace('r / 4', 'r / 5\n  // done'),
      'gone.txt': null,
      'tail.txt': 'x\ny\nz\n',
      'docs/new.md': '# New\n\ntext\n',
      'empty.txt': '',
    })
    const diffs = await diffCommits(repo, {})
    expect(formatUnifiedDiff(diffs)).toBe(await gitDiff(repo, 'HEAD~1', 'HEAD'))
    expect(formatStat(diffs)).toBe(await repo.git('diff', '--stat', '--no-renames', 'HEAD~1'))
    const oneFile = await diffCommits(repo, { paths: ['src'], context: 1 })
    expect(formatUnifiedDiff(oneFile)).toBe(
      await gitDiff(repo, '-U1', 'HEAD~1', 'HEAD', '--', 'src'),
    )
    expect(oneFile[0]?.hunks).toHaveLength(2)
  })

  test('shows mode-only changes, symlinks and type changes with their modes', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { 'run.sh': 'echo hi\n', flip: 'plain\n' })
    await chmod(path.join(repo.workDir, 'run.sh'), 0o755)
    await symlink('../outside/target', path.join(repo.workDir, 'link'))
    await repo.commit('modes and links')
    const diffs = await diffCommits(repo, {})
    expect(diffs.map((d) => [d.path, d.status, d.oldMode, d.newMode])).toEqual([
      ['link', 'added', undefined, 0o120000],
      ['run.sh', 'modified', 0o100644, 0o100755],
    ])
    expect(formatUnifiedDiff(diffs)).toBe(await gitDiff(repo, 'HEAD~1', 'HEAD'))
    await rm(path.join(repo.workDir, 'flip'))
    await symlink('plain', path.join(repo.workDir, 'flip'))
    await repo.commit('type change')
    const typechange = await diffCommits(repo, {})
    expect(typechange).toMatchObject([
      { status: 'typechange', oldMode: 0o100644, newMode: 0o120000 },
    ])
    expect(formatUnifiedDiff(typechange)).toContain(
      '-plain\n+plain\n\\ No newline at end of file\n',
    )
  })

  test('summarises binary and huge files instead of dumping them', async () => {
    const repo = await createRepo()
    const binary = Buffer.alloc(12 * 1024, 7)
    binary[100] = 0
    const latin1 = Buffer.from('caf\xe9\n', 'latin1')
    await repo.commit('snapshot', { 'img.bin': binary, 'big.txt': 'line\n'.repeat(1000) })
    const grown = Buffer.concat([binary, Buffer.alloc(1126, 1)])
    await repo.commit('grow', {
      'img.bin': grown,
      'big.txt': 'line\n'.repeat(1001),
      'l1.txt': latin1,
    })
    const diffs = await diffCommits(repo, { maxBytes: 4096 })
    const byPath = Object.fromEntries(diffs.map((d) => [d.path, d]))
    expect(byPath['img.bin']).toMatchObject({
      binary: true,
      hunks: [],
      summary: 'Binary file (12.0 KiB → 13.1 KiB)',
    })
    expect(byPath['big.txt']).toMatchObject({ tooLarge: true, binary: false, hunks: [] })
    expect(byPath['big.txt']?.summary).toBe('Large file, not shown (4.9 KiB → 4.9 KiB)')
    expect(byPath['l1.txt']).toMatchObject({ binary: true, summary: 'Binary file (5 B)' })
    const text = formatUnifiedDiff(diffs)
    expect(text).not.toContain('line\n')
    expect(text).toContain('Binary file (12.0 KiB → 13.1 KiB)\n')
    expect(formatStat(diffs)).toContain(' img.bin | Bin 12288 -> 13414 bytes\n')
  })

  test('diffs the whole session from commit 0, like git diff root HEAD', async () => {
    const repo = await createRepo()
    const root = await repo.commit('snapshot', { 'a.txt': 'one\ntwo\nthree\n', 'b.txt': 'b\n' })
    await repo.commit('1', { 'a.txt': 'one\n2\nthree\n' })
    await repo.commit('2', { 'c/d.txt': 'd\n', 'b.txt': null })
    await repo.commit('3', { 'a.txt': 'one\n2\nthree\nfour\n' })
    const diffs = await diffCommits(repo, { from: await findRootCommit(repo) })
    expect(diffs.map((d) => d.path)).toEqual(['a.txt', 'b.txt', 'c/d.txt'])
    expect(formatUnifiedDiff(diffs)).toBe(await gitDiff(repo, root, 'HEAD'))
    const ranged = await diffCommits(repo, {
      from: root.slice(0, 8),
      to: 'HEAD~1',
      paths: ['a.txt'],
    })
    expect(formatUnifiedDiff(ranged)).toBe(await gitDiff(repo, root, 'HEAD~1', '--', 'a.txt'))
  })

  test('quotes hostile names like git and escapes terminal control characters', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot')
    await repo.commit('hostile', {
      'new\nline.txt': 'x\n',
      'café.txt': 'y\n',
      'esc.txt': 'safe\x1b]0;owned\x07 \u202Eevil\rcover\n',
    })
    const diffs = await diffCommits(repo, {})
    const text = formatUnifiedDiff(diffs)
    expect(text).toContain(await gitDiff(repo, 'HEAD~1', 'HEAD', '--', 'new*'))
    expect(text).toContain(await gitDiff(repo, 'HEAD~1', 'HEAD', '--', 'caf*'))
    expect(text).toContain('+safe^[]0;owned^G <U+202E>evil^Mcover\n')
    expect(text).not.toContain('\x1b')
    expect(formatUnifiedDiff(diffs, { color: true })).toContain('\x1b[32m+y\x1b[m\n')
  })

  test('treats placeholders of too-large files as their summary', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot')
    const placeholder = 'Safe Coder did not record this file: 5000000 bytes is over the limit.\n'
    await repo.commit('big', { 'huge.log': placeholder })
    const oid = (await repo.git('rev-parse', 'HEAD:huge.log')).trim()
    await mkdir(path.join(repo.gitdir, 'safe-coder'))
    await writeFile(path.join(repo.gitdir, 'safe-coder', 'blobs'), `${oid} 5000000 "huge.log"\n`)
    const [diff] = await diffCommits(repo, {})
    expect(diff).toMatchObject({ tooLarge: true, hunks: [], summary: placeholder.trim() })
    const [change] = (await readLog(repo, { limit: 1 }))[0]?.files ?? []
    expect(change).toMatchObject({ path: 'huge.log', tooLarge: true, added: 0, removed: 0 })
  })

  test('reads repositories written with the low-level object API and refuses unsafe names', async () => {
    const repo = await createRepo()
    const gitdir = repo.gitdir
    const blob = await writeBlob({ fs, gitdir, blob: Buffer.from('hi\n') })
    const tree = await writeTree({
      fs,
      gitdir,
      tree: [{ mode: '100644', path: 'a', oid: blob, type: 'blob' }],
    })
    const author = { name: 'x', email: 'x@x', timestamp: 1_700_000_000, timezoneOffset: 0 }
    const commit = await writeCommit({
      fs,
      gitdir,
      commit: { tree, parent: [], author, committer: author, message: 'snap\n' },
    })
    await writeRef({ fs, gitdir, ref: 'refs/heads/main', value: commit, force: true })
    const log = await readLog({ gitdir })
    expect(log).toMatchObject([{ oid: commit, subject: 'snap', timestamp: 1_700_000_000 }])
    expect(log[0]?.files).toMatchObject([{ path: 'a', status: 'added', added: 1, removed: 0 }])
    await expect(diffCommits({ gitdir }, { to: 'refs/heads/../../x' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await expect(diffCommits({ gitdir }, { to: 'deadbeef' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })
})
