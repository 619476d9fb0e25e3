import { createHash } from 'node:crypto'
import {
  chmod,
  lstat,
  mkdir,
  readFile,
  readlink,
  readdir,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { diffCommits } from '../../../src/git/diff.js'
import { readLog } from '../../../src/git/log.js'
import { revertCommit } from '../../../src/git/revert.js'
import { createCliRepo } from './cli-repo.js'

/** A bare audit repository whose work dir is the mirror, filled with the git CLI. */
function createRepo() {
  return createCliRepo('safe-coder-revert-')
}

type Repo = Awaited<ReturnType<typeof createRepo>>

/** Every file of the work dir equals HEAD's tree: same paths, modes, bytes and link targets. */
async function expectMirrorMatchesHead(repo: Repo): Promise<void> {
  const listing = await repo.git('ls-tree', '-r', 'HEAD')
  const expected =
    listing === ''
      ? []
      : listing.split('\n').map((line) => {
          const [meta = '', file = ''] = line.split('\t')
          const [mode, , oid] = meta.split(' ')
          return `${mode} ${oid} ${file}`
        })
  const actual: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(path.join(repo.workDir, dir))) {
      const rel = dir === '' ? name : `${dir}/${name}`
      const full = path.join(repo.workDir, rel)
      const stats = await lstat(full)
      if (stats.isDirectory()) await walk(rel)
      else if (stats.isSymbolicLink())
        actual.push(`120000 ${blobId(Buffer.from(await readlink(full)))} ${rel}`)
      else {
        const mode = (stats.mode & 0o111) !== 0 ? '100755' : '100644'
        actual.push(`${mode} ${blobId(await readFile(full))} ${rel}`)
      }
    }
  }
  await walk('')
  expect(actual.sort()).toEqual(expected.sort())
}

function blobId(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex')
}

const lines = (count: number, tag = '') =>
  Array.from({ length: count }, (_, i) => `line ${i + 1}${tag}\n`).join('')

describe('revertCommit', () => {
  test('reverts a whole commit as a new commit and mirrors it into the work dir', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { 'a.txt': lines(5), 'old.txt': 'old\n' })
    await chmod(path.join(repo.workDir, 'a.txt'), 0o755)
    await symlink('a.txt', path.join(repo.workDir, 'link'))
    await repo.commit('modes')
    const bad = await repo.commit('bad step', {
      'a.txt': lines(5).replace('line 3', 'line three'),
      'old.txt': null,
      'deep/new/file.txt': 'new\n',
    })
    const before = await repo.git('rev-parse', 'HEAD~1^{tree}')
    const result = await revertCommit(repo, {
      commit: bad,
      trailers: { Session: 's-1', Call: 'revert-1' },
    })
    expect(result.changed).toEqual(['a.txt', 'deep/new/file.txt', 'old.txt'])
    expect(await repo.git('rev-parse', 'HEAD')).toBe(result.commit)
    expect(await repo.git('rev-parse', 'HEAD^')).toBe(bad)
    expect(await repo.git('rev-parse', 'HEAD^{tree}')).toBe(before)
    await expectMirrorMatchesHead(repo)
    await expect(lstat(path.join(repo.workDir, 'deep'))).rejects.toMatchObject({ code: 'ENOENT' })
    const [head] = await readLog(repo, { limit: 1 })
    expect(head).toMatchObject({
      subject: 'Revert "bad step"',
      trailers: { Session: 's-1', Call: 'revert-1', Reverts: bad },
    })
    await expect(revertCommit(repo, { commit: bad })).rejects.toMatchObject({ code: 'USAGE' })
  })

  test('reverts one file of a commit, restoring mode and symlinks', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { 'run.sh': 'echo hi\n', 'keep.txt': 'keep\n' })
    await chmod(path.join(repo.workDir, 'run.sh'), 0o755)
    await symlink('run.sh', path.join(repo.workDir, 'link'))
    await repo.commit('with modes')
    const step = await repo.commit('remove things', {
      'run.sh': null,
      link: null,
      'keep.txt': 'changed\n',
    })
    const result = await revertCommit(repo, { commit: step, paths: ['run.sh', 'link'] })
    expect(result.changed).toEqual(['link', 'run.sh'])
    expect(await readlink(path.join(repo.workDir, 'link'))).toBe('run.sh')
    expect((await lstat(path.join(repo.workDir, 'run.sh'))).mode & 0o777).toBe(0o755)
    expect(await readFile(path.join(repo.workDir, 'keep.txt'), 'utf8')).toBe('changed\n')
    await expectMirrorMatchesHead(repo)
  })

  test('reverts one hunk and merges around later edits to other lines', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { 'a.txt': lines(30) })
    const step = await repo.commit('two edits', {
      'a.txt': lines(30)
        .replace('line 3\n', 'line 3 edited\n')
        .replace('line 25\n', 'line 25 edited\n'),
    })
    const later = (await readFile(path.join(repo.workDir, 'a.txt'), 'utf8')).replace(
      'line 14\n',
      'line 14 later\n',
    )
    await repo.commit('later edit', { 'a.txt': later })
    const [diff] = await diffCommits(repo, { to: step })
    expect(diff?.hunks).toHaveLength(2)
    await revertCommit(repo, { commit: step, hunk: { path: 'a.txt', index: 1 } })
    const expected = lines(30)
      .replace('line 3\n', 'line 3 edited\n')
      .replace('line 14\n', 'line 14 later\n')
    expect(await readFile(path.join(repo.workDir, 'a.txt'), 'utf8')).toBe(expected)
    await expectMirrorMatchesHead(repo)
    await revertCommit(repo, { commit: step })
    expect(await readFile(path.join(repo.workDir, 'a.txt'), 'utf8')).toBe(
      lines(30).replace('line 14\n', 'line 14 later\n'),
    )
    await expect(
      revertCommit(repo, { commit: step, hunk: { path: 'a.txt', index: 5 } }),
    ).rejects.toMatchObject({ code: 'USAGE' })
  })

  test('refuses a conflict with later changes, naming the file and the commit', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { 'a.txt': lines(5) })
    const step = await repo.commit('edit line 3', {
      'a.txt': lines(5).replace('line 3', 'line 3 a'),
    })
    await repo.commit('edit it again', { 'a.txt': lines(5).replace('line 3', 'line 3 b') })
    const head = await repo.git('rev-parse', 'HEAD')
    const error = await revertCommit(repo, { commit: step }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'USAGE', data: { path: 'a.txt', commit: step } })
    expect((error as Error).message).toContain(`${step.slice(0, 7)} ("edit line 3") in a.txt`)
    expect(await repo.git('rev-parse', 'HEAD')).toBe(head)
    await expectMirrorMatchesHead(repo)
  })

  test('never writes through a symlink planted in the work dir', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { 'src/a.txt': 'original\n', 'src/b.txt': 'b\n' })
    const step = await repo.commit('edit', { 'src/a.txt': 'edited\n' })
    const outside = path.join(repo.root, 'outside')
    await mkdir(outside)
    await writeFile(path.join(outside, 'a.txt'), 'outside\n')
    await rm(path.join(repo.workDir, 'src'), { recursive: true })
    await symlink(outside, path.join(repo.workDir, 'src'))
    const head = await repo.git('rev-parse', 'HEAD')
    await expect(revertCommit(repo, { commit: step })).rejects.toMatchObject({
      code: 'PATH_REJECTED',
      data: { path: 'src/a.txt' },
    })
    expect(await readFile(path.join(outside, 'a.txt'), 'utf8')).toBe('outside\n')
    expect(await readdir(outside)).toEqual(['a.txt'])
    expect(await repo.git('rev-parse', 'HEAD')).toBe(head)
  })

  test('a second revert of a commit whose file changed since makes no commit and says so', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { 'a.txt': lines(20) })
    const step = await repo.commit('edit line 3', {
      'a.txt': lines(20).replace('line 3\n', 'line 3 edited\n'),
    })
    const later = lines(20)
      .replace('line 3\n', 'line 3 edited\n')
      .replace('line 15\n', 'line 15 later\n')
    await repo.commit('later edit', { 'a.txt': later })
    const first = await revertCommit(repo, { commit: step })
    expect(first.changed).toEqual(['a.txt'])
    const head = await repo.git('rev-parse', 'HEAD')
    const error = await revertCommit(repo, { commit: step }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'USAGE' })
    expect((error as Error).message).toMatch(/already undone/)
    expect(await repo.git('rev-parse', 'HEAD')).toBe(head)
    await expectMirrorMatchesHead(repo)
  })

  test('reverts a commit that turned a file into a directory, and one that did the reverse', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { thing: 'a file\n', 'dir/x.txt': 'x\n', 'dir/y/z.txt': 'z\n' })
    await rm(path.join(repo.workDir, 'thing'))
    const toDir = await repo.commit('file to directory', {
      'thing/inside.txt': 'inside\n',
      'thing/deep/more.txt': 'more\n',
    })
    await rm(path.join(repo.workDir, 'dir'), { recursive: true })
    const toFile = await repo.commit('directory to file', { dir: 'now a file\n' })
    const reverted = await revertCommit(repo, { commit: toDir })
    expect(reverted.changed).toEqual(['thing', 'thing/deep/more.txt', 'thing/inside.txt'])
    expect(await readFile(path.join(repo.workDir, 'thing'), 'utf8')).toBe('a file\n')
    await expectMirrorMatchesHead(repo)
    await revertCommit(repo, { commit: toFile })
    expect(await readFile(path.join(repo.workDir, 'dir/y/z.txt'), 'utf8')).toBe('z\n')
    await expectMirrorMatchesHead(repo)
    expect(await repo.git('rev-parse', 'HEAD^{tree}')).toBe(
      await repo.git('rev-parse', `${toDir}~1^{tree}`),
    )
  })

  test('refuses to turn a directory back into a file while it holds files the revert keeps', async () => {
    const repo = await createRepo()
    await repo.commit('snapshot', { thing: 'a file\n' })
    await rm(path.join(repo.workDir, 'thing'))
    const toDir = await repo.commit('file to directory', { 'thing/inside.txt': 'inside\n' })
    await repo.commit('another file in it', { 'thing/later.txt': 'later\n' })
    const head = await repo.git('rev-parse', 'HEAD')
    const error = await revertCommit(repo, { commit: toDir }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'PATH_REJECTED', data: { path: 'thing' } })
    expect((error as Error).message).toMatch(/thing\/later\.txt/)
    expect(await repo.git('rev-parse', 'HEAD')).toBe(head)
    await expectMirrorMatchesHead(repo)
  })

  test('refuses to revert the snapshot or an unknown commit', async () => {
    const repo = await createRepo()
    const root = await repo.commit('snapshot', { 'a.txt': 'a\n' })
    await expect(revertCommit(repo, { commit: root })).rejects.toMatchObject({ code: 'USAGE' })
    await expect(revertCommit(repo, { commit: 'f'.repeat(40) })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })
})
