import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { deflateSync } from 'node:zlib'
import { describe, expect, onTestFinished, test } from 'vitest'
import { writeLooseObject } from '../../../src/git/loose-object.js'
import { createObjectStore, readObject } from '../../../src/git/object-read.js'
import { applyDelta } from '../../../src/git/object-read-delta.js'
import { readAs, readCommitFields, readStoredTree } from '../../../src/git/object-read-typed.js'
import { createPackWriter } from '../../../src/git/pack-writer.js'

/** A bare repository and the real git CLI against it (tests only). */
async function createGitdir() {
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-object-read-'))
  onTestFinished(() => rm(root, { recursive: true, force: true }))
  const gitdir = path.join(root, 'repo.git')
  const raw = (args: string[], input?: string | Buffer): Buffer =>
    execFileSync('git', ['--git-dir', gitdir, ...args], {
      input,
      env: {
        ...process.env,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_AUTHOR_NAME: 'test',
        GIT_AUTHOR_EMAIL: 'test@example.invalid',
        GIT_COMMITTER_NAME: 'test',
        GIT_COMMITTER_EMAIL: 'test@example.invalid',
      },
    })
  const git = (args: string[], input?: string | Buffer): string => raw(args, input).toString()
  /** Exactly the content git stores for `oid`. */
  const catFile = (oid: string): Buffer =>
    raw(['cat-file', git(['cat-file', '-t', oid]).trim(), oid])
  /** Packs the given objects, reachable or not, and drops their loose copies. */
  const pack = (oids: string[]): void => {
    raw(
      ['pack-objects', '-q', path.join(gitdir, 'objects', 'pack', 'pack')],
      `${oids.join('\n')}\n`,
    )
    raw(['prune-packed'])
  }
  execFileSync('git', ['init', '-q', '--bare', gitdir])
  const looseFile = (oid: string) => path.join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2))
  return { root, gitdir, git, catFile, pack, looseFile }
}

/** Fills a repository with similar files over a few commits, so a repack makes deltas. */
function fillHistory(git: (args: string[], input?: string) => string): string {
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i} of a fairly ordinary source file`)
  let parent: string | undefined
  for (let step = 0; step < 4; step++) {
    lines[step * 10] = `changed in step ${step}`
    const blob = git(['hash-object', '-w', '--stdin'], lines.join('\n')).trim()
    const sub = git(['mktree'], `100644 blob ${blob}\tfile.ts\n`).trim()
    const root = git(['mktree'], `040000 tree ${sub}\tsrc\n100755 blob ${blob}\trun.sh\n`).trim()
    const args = ['commit-tree', root, '-m', `step ${step}`]
    if (parent !== undefined) args.push('-p', parent)
    parent = git(args).trim()
  }
  return parent ?? ''
}

describe('readObject', () => {
  test('reads loose objects written by git, and parses trees and commits as git does', async () => {
    const { gitdir, git, catFile } = await createGitdir()
    const head = fillHistory(git)
    const store = createObjectStore(gitdir)
    const commit = await readCommitFields(store, head)
    expect(commit.tree).toBe(git(['rev-parse', `${head}^{tree}`]).trim())
    expect(commit.parents).toEqual([git(['rev-parse', `${head}~1`]).trim()])
    expect(commit.message).toBe('step 3\n')
    const tree = await readStoredTree(store, head)
    expect(tree.map((entry) => `${entry.mode} ${entry.name}`)).toEqual([
      '100755 run.sh',
      '040000 src',
    ])
    const blob = tree[0]?.oid ?? ''
    expect(Buffer.from(await readAs(store, blob, 'blob'))).toEqual(catFile(blob))
  })

  test('reads every object of a repacked repository, deltas included', async () => {
    const { gitdir, git, catFile, pack } = await createGitdir()
    fillHistory(git)
    const all = git([
      'cat-file',
      '--batch-all-objects',
      '--batch-check=%(objectname) %(objecttype)',
    ])
    const objects = all.trim().split('\n')
    pack(objects.map((line) => line.split(' ')[0] ?? ''))
    expect(git(['count-objects', '-v'])).toMatch(/^count: 0$/m)
    expect(git(['verify-pack', '-v', ...(await idxFiles(gitdir))])).toMatch(/chain length = 1/)
    const store = createObjectStore(gitdir)
    for (const line of objects) {
      const [oid = '', type] = line.split(' ')
      const object = await readObject(store, oid)
      expect(object.type).toBe(type)
      expect(Buffer.from(object.content)).toEqual(catFile(oid))
    }
  })

  test('reads a pack written by the snapshot pack writer', async () => {
    const { gitdir, git } = await createGitdir()
    const writer = await createPackWriter(gitdir)
    const oid = await writer.add('blob', Buffer.from('packed by safe coder\n'))
    await writer.finish()
    expect(git(['cat-file', '-p', oid])).toBe('packed by safe coder\n')
    const object = await readObject(createObjectStore(gitdir), oid)
    expect(Buffer.from(object.content).toString()).toBe('packed by safe coder\n')
  })

  test('a missing object is NOT_FOUND; a corrupt loose object is a clear INTERNAL error', async () => {
    const { gitdir, git, looseFile } = await createGitdir()
    const store = createObjectStore(gitdir)
    await expect(readObject(store, 'f'.repeat(40))).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('f'.repeat(40)) as string,
    })
    const oid = git(['hash-object', '-w', '--stdin'], 'hello\n').trim()
    await chmod(looseFile(oid), 0o644)
    await writeFile(looseFile(oid), Buffer.from('not zlib at all'))
    await expect(readObject(store, oid)).rejects.toMatchObject({
      name: 'SafeCoderError',
      code: 'INTERNAL',
      message: expect.stringMatching(new RegExp(`${oid}.*zlib`)) as string,
    })
    await writeFile(looseFile(oid), deflateSync(Buffer.from('blob 6\0jello\n')))
    await expect(readObject(store, oid)).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('hashes to') as string,
    })
  })

  test('a corrupt packed object is a clear INTERNAL error', async () => {
    const { gitdir, git, pack } = await createGitdir()
    const oid = git(['hash-object', '-w', '--stdin'], 'x'.repeat(5000)).trim()
    pack([oid])
    const file = (await idxFiles(gitdir))[0]?.replace(/\.idx$/, '.pack') ?? ''
    const bytes = await readFile(file)
    bytes.fill(0xff, 14, 40)
    await chmod(file, 0o644)
    await writeFile(file, bytes)
    await expect(readObject(createObjectStore(gitdir), oid)).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining(oid) as string,
    })
  })

  test('refuses objects over the cap, loose or packed, before inflating them', async () => {
    const { gitdir, git, pack } = await createGitdir()
    const loose = git(['hash-object', '-w', '--stdin'], 'y'.repeat(4096)).trim()
    const store = createObjectStore(gitdir, { maxObjectBytes: 1024 })
    await expect(readObject(store, loose)).rejects.toMatchObject({
      code: 'COPY_FAILED',
      message: expect.stringContaining('too large') as string,
    })
    pack([loose])
    expect(await idxFiles(gitdir)).toHaveLength(1)
    await expect(
      readObject(createObjectStore(gitdir, { maxObjectBytes: 1024 }), loose),
    ).rejects.toMatchObject({
      code: 'COPY_FAILED',
      message: expect.stringContaining('too large') as string,
    })
    expect((await readObject(createObjectStore(gitdir), loose)).content.byteLength).toBe(4096)
  })

  test('refuses unsafe tree names and a FIFO in place of an object, without hanging', async () => {
    const { gitdir, looseFile } = await createGitdir()
    const blob = await writeLooseObject(gitdir, 'blob', Buffer.from('x'))
    const name = Buffer.from('.GIT ')
    const body = Buffer.concat([
      Buffer.from('100644 '),
      name,
      Buffer.from([0]),
      Buffer.from(blob, 'hex'),
    ])
    const tree = await writeLooseObject(gitdir, 'tree', body)
    const store = createObjectStore(gitdir)
    await expect(readStoredTree(store, tree)).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('not allowed') as string,
    })
    const fifo = 'a'.repeat(40)
    await mkdir(path.dirname(looseFile(fifo)), { recursive: true })
    execFileSync('mkfifo', [looseFile(fifo)])
    await expect(readObject(store, fifo)).rejects.toMatchObject({ code: 'INTERNAL' })
  })
})

describe('applyDelta', () => {
  test('applies copies and inserts, and refuses copies outside the base', () => {
    const base = Buffer.from('hello world')
    // Base size 11, result size 8: copy 5 bytes from offset 0, then insert " yo".
    const delta = Buffer.from([11, 8, 0x90, 5, 3, 0x20, 0x79, 0x6f])
    expect(Buffer.from(applyDelta(base, delta, 100)).toString()).toBe('hello yo')
    expect(() => applyDelta(base, Buffer.from([11, 20, 0x91, 5, 20]), 100)).toThrow(/out of bounds/)
    expect(() => applyDelta(base, Buffer.from([11, 0xc8, 0x01]), 100)).toThrow(/over the cap/)
  })
})

async function idxFiles(gitdir: string): Promise<string[]> {
  const dir = path.join(gitdir, 'objects', 'pack')
  return (await readdir(dir)).filter((n) => n.endsWith('.idx')).map((n) => path.join(dir, n))
}
