import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { copyIn } from '../../../src/workspace/copy-in.js'
import { commitAll, git, listTree, projectAndMirror, tempDir, writeTree } from './fixtures.js'

describe('copyIn from a git work tree', () => {
  it('copies tracked and untracked-not-ignored files, honouring nested .gitignore files', async () => {
    const { project, mirror } = await projectAndMirror()
    await commitAll(project, {
      '.gitignore': '*.log\nbuild/\n',
      'src/a.ts': 'tracked',
      'lib/.gitignore': '*.tmp\n!keep.tmp\n',
      'lib/keep.tmp': 'negated',
      'lib/y.js': 'y',
    })
    await writeTree(project, {
      'src/b.ts': 'untracked',
      'debug.log': 'ignored',
      'build/out.js': 'ignored dir',
      'lib/x.tmp': 'ignored by nested rule',
      'other/x.tmp': 'nested rule does not reach here',
      'forced.log': 'tracked although ignored',
    })
    await git(project, 'add', '-f', 'forced.log')

    const report = await copyIn({ projectDir: project, mirrorDir: mirror })

    expect(report.source).toBe('git')
    expect(await listTree(mirror)).toEqual([
      '.gitignore',
      'forced.log',
      'lib/.gitignore',
      'lib/keep.tmp',
      'lib/y.js',
      'other/x.tmp',
      'src/a.ts',
      'src/b.ts',
    ])
    expect(await readFile(path.join(mirror, 'src/b.ts'), 'utf8')).toBe('untracked')
    expect(report).toMatchObject({ files: 8, dirs: 3, symlinks: 0, skipped: [] })
    expect(report.bytes).toBe(
      ['*.log\nbuild/\n', 'tracked', '*.tmp\n!keep.tmp\n', 'negated', 'y', 'untracked']
        .concat(['nested rule does not reach here', 'tracked although ignored'])
        .reduce((sum, text) => sum + Buffer.byteLength(text), 0),
    )
  })

  it('never copies .git, applies exclude patterns on top, and lists only the project subtree', async () => {
    const { project: repo, mirror } = await projectAndMirror()
    await commitAll(repo, {
      'outside.txt': 'not part of the project',
      'app/src/main.ts': 'main',
      'app/docs/guide.md': 'guide',
      'app/notes.md': 'notes',
      'app/keep.txt': 'keep',
    })
    const project = path.join(repo, 'app')

    const report = await copyIn({
      projectDir: project,
      mirrorDir: mirror,
      exclude: ['docs/', '*.md'],
    })

    expect(report.source).toBe('git')
    expect(await listTree(mirror)).toEqual(['keep.txt', 'src/main.ts'])
  })

  it('walks a nested repository without its .git, honouring its .gitignore', async () => {
    const { project, mirror } = await projectAndMirror()
    await commitAll(project, { 'top.txt': 'top' })
    await commitAll(path.join(project, 'vendor/lib'), {
      '.gitignore': 'dist/\n',
      'index.js': 'lib',
      'dist/bundle.js': 'ignored',
    })
    await writeTree(project, { 'vendor/lib/dist/more.js': 'ignored too' })

    const report = await copyIn({ projectDir: project, mirrorDir: mirror })

    expect(await listTree(mirror)).toEqual([
      'top.txt',
      'vendor/lib/.gitignore',
      'vendor/lib/index.js',
    ])
    expect(report.source).toBe('git')
  })

  it('reports tracked files that no longer exist, or now sit behind a symlink, as vanished', async () => {
    const { project, mirror } = await projectAndMirror()
    const elsewhere = await tempDir()
    await writeTree(elsewhere, { 'a.txt': 'must not be read through the link' })
    await commitAll(project, { 'gone.txt': 'deleted', 'dir/a.txt': 'was here', 'kept.txt': 'k' })
    await rm(path.join(project, 'gone.txt'))
    await rm(path.join(project, 'dir'), { recursive: true })
    await symlink(elsewhere, path.join(project, 'dir'))

    const report = await copyIn({ projectDir: project, mirrorDir: mirror })

    expect(report.skipped).toEqual([
      { path: 'dir/a.txt', reason: 'vanished' },
      { path: 'gone.txt', reason: 'vanished' },
    ])
    expect(await listTree(mirror)).toEqual([`dir -> ${elsewhere}`, 'kept.txt'])
  })

  it('copies a tracked file that became a directory once, as git lists it', async () => {
    const { project, mirror } = await projectAndMirror()
    await commitAll(project, { foo: 'was a file', 'a.txt': 'a' })
    await rm(path.join(project, 'foo'))
    await writeTree(project, { 'foo/bar.txt': 'now a directory' })

    const report = await copyIn({ projectDir: project, mirrorDir: mirror })

    expect(await listTree(mirror)).toEqual(['a.txt', 'foo/bar.txt'])
    expect(report.skipped).toEqual([])
  })

  it('walks the tree itself when git is not installed', async () => {
    const { project, mirror } = await projectAndMirror()
    await commitAll(project, { '.gitignore': 'secret.txt\n', 'a.txt': 'a' })
    await writeTree(project, { 'secret.txt': 'ignored', 'b.txt': 'b' })
    vi.stubEnv('PATH', await tempDir())
    try {
      const report = await copyIn({ projectDir: project, mirrorDir: mirror })
      expect(report.source).toBe('walk')
    } finally {
      vi.unstubAllEnvs()
    }
    expect(await listTree(mirror)).toEqual(['.gitignore', 'a.txt', 'b.txt'])
  })
})

describe('copyIn by walking a tree without git', () => {
  it('honours .gitignore at every level: subtree scope, negation, directory patterns', async () => {
    const { project, mirror } = await projectAndMirror()
    await writeTree(project, {
      '.gitignore': '*.log\ncache/\n/root-only.txt\nvendor/\n',
      'a.txt': 'a',
      'debug.log': 'ignored',
      'root-only.txt': 'ignored: anchored at the root',
      'cache/blob': 'ignored directory',
      'sub/cache': 'a file named like an ignored directory',
      'sub/root-only.txt': 'kept: the anchored rule is for the root only',
      'sub/.gitignore': '!important.log\n*.tmp\n!vendor/\n',
      'sub/important.log': 'negated in the nested file',
      'sub/other.log': 'still ignored by the root rule',
      'sub/x.tmp': 'ignored by the nested rule',
      'sub/vendor/v.js': 're-included below sub',
      'other/x.tmp': 'the nested rule does not reach here',
      'vendor/v.js': 'ignored',
      '.git/config': 'a .git directory is never copied',
      'sub/deep/.git': 'nor a .git file',
    })

    const report = await copyIn({ projectDir: project, mirrorDir: mirror })

    expect(report.source).toBe('walk')
    expect(await listTree(mirror)).toEqual([
      '.gitignore',
      'a.txt',
      'other/x.tmp',
      'sub/.gitignore',
      'sub/cache',
      'sub/important.log',
      'sub/root-only.txt',
      'sub/vendor/v.js',
    ])
    expect(report.dirs).toBe(3)
  })

  it('applies exclude patterns that no .gitignore negation can bring back', async () => {
    const { project, mirror } = await projectAndMirror()
    await writeTree(project, {
      '.gitignore': '!*.snap\n',
      'src/a.ts': 'a',
      'src/a.snap': 'excluded',
      'fixtures/big.bin': 'excluded directory',
    })

    await copyIn({ projectDir: project, mirrorDir: mirror, exclude: ['*.snap', 'fixtures/'] })

    expect(await listTree(mirror)).toEqual(['.gitignore', 'src/a.ts'])
  })
})

describe('copyIn with odd names', () => {
  const names = [
    'with space.txt',
    'new\nline.txt',
    'tab\there.txt',
    'ünïcödé 文件.txt',
    '-dash.txt',
    '...',
    '#hash',
    '!bang',
    '[brackets]/*star?.txt',
    'back\\slash.txt',
    'trailing space ',
  ]
  const files = Object.fromEntries(names.map((name) => [name, `content of ${name}`]))

  it('copies them from git', async () => {
    const { project, mirror } = await projectAndMirror()
    await commitAll(project, files)
    const report = await copyIn({ projectDir: project, mirrorDir: mirror })
    expect(report.source).toBe('git')
    await expectCopied(mirror, names)
  })

  it('copies them from a walk', async () => {
    const { project, mirror } = await projectAndMirror()
    await writeTree(project, { ...files, '.gitignore': '*.log\n' })
    const report = await copyIn({ projectDir: project, mirrorDir: mirror })
    expect(report.source).toBe('walk')
    await expectCopied(mirror, [...names, '.gitignore'])
  })

  async function expectCopied(mirror: string, expected: string[]): Promise<void> {
    expect(await listTree(mirror)).toEqual([...expected].sort())
    for (const name of names) {
      expect(await readFile(path.join(mirror, name), 'utf8')).toBe(`content of ${name}`)
    }
  }
})

describe('copyIn progress', () => {
  it('reports progress at most ten times a second, ending at the total', async () => {
    const { project, mirror } = await projectAndMirror()
    const files = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`d${i % 7}/f${i}.txt`, 'x'.repeat(i)]),
    )
    await writeTree(project, files)
    const seen: { at: number; files: number; bytes: number; total: number }[] = []

    const report = await copyIn({
      projectDir: project,
      mirrorDir: mirror,
      onProgress: (progress) => seen.push({ at: performance.now(), ...progress }),
    })

    const { at: _, ...last } = seen.at(-1) ?? { at: 0 }
    expect(last).toEqual({ files: 300, bytes: report.bytes, total: 300 })
    const throttled = seen.slice(0, -1)
    for (let i = 1; i < throttled.length; i++) {
      expect((throttled[i]?.at ?? 0) - (throttled[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(99)
    }
    expect(report.files).toBe(300)
  })

  it('copies the same tree at any concurrency', async () => {
    const { project } = await projectAndMirror()
    const files = Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [`a/b${i % 3}/c${i % 5}/f${i}`, `${i}`]),
    )
    await writeTree(project, files)
    await mkdir(path.join(project, 'empty-dir'))
    await writeFile(path.join(project, 'top'), 'top')
    const state = await tempDir()
    for (const concurrency of [1, 3, 64]) {
      const mirror = path.join(state, `work-${concurrency}`)
      const report = await copyIn({ projectDir: project, mirrorDir: mirror, concurrency })
      expect(await listTree(mirror)).toEqual([...Object.keys(files), 'top'].sort())
      expect(report).toMatchObject({ files: 61, dirs: 1 + 3 + 15 })
    }
  })
})
