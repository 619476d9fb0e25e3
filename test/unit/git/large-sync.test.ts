import { lstat, mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises'
import { execa } from 'execa'
import path from 'node:path'
import { deflateSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import {
  commitChanges,
  gitSyncSource,
  headCommit,
  manifestAt,
  revertCommit,
  snapshot,
} from '../../../src/git/index.js'
import { streamLooseBlob } from '../../../src/git/loose-stream.js'
import { applySync, lockSyncProject, planSync } from '../../../src/workspace/sync.js'
import { failure } from '../../helpers/failure.js'
import { tempDir } from '../workspace/fixtures.js'
import { createRepo, git, put, sparseFile } from './fixtures.js'

const GiB = 1024 ** 3
const MiB = 1024 ** 2

/** A session whose HEAD adds `big.bin` to a project holding `small.txt`, ready to sync. */
async function sessionWithLargeFile(size: number, cap = 3 * GiB) {
  const { repo } = await createRepo(cap)
  await put(repo, 'small.txt', 'small\n')
  const base = await manifestAt(repo, (await snapshot(repo, { message: 'snapshot' })).commit)
  const file = path.join(repo.workDir, 'big.bin')
  await sparseFile(file, size, 'start-and-end')
  await commitChanges(repo, { message: 'bash', paths: ['big.bin'] })
  const project = await tempDir('safe-coder-large-sync-')
  await writeFile(path.join(project, 'small.txt'), 'small\n')
  const state = await tempDir('safe-coder-large-sync-state-')
  const source = gitSyncSource(repo, await headCommit(repo))
  const oid = git(repo, 'hash-object', file).trim()
  const sync = async () => {
    const plan = await planSync({ projectDir: project, base, source })
    const lock = await lockSyncProject({
      root: path.join(state, 'projects'),
      projectDir: project,
      holder: 'test',
      waitMs: 0,
    })
    try {
      return await applySync(plan, {
        source,
        journalDir: path.join(state, 'journal'),
        confirmRisky: true,
        lock,
      })
    } finally {
      await lock.release()
    }
  }
  return { repo, project, oid, sync }
}

describe('syncing large files back', () => {
  it('writes a file larger than any whole read may be from the history in chunks, sparse', async () => {
    // Over the object reader's 1 GiB: before, this sync failed "too large to load at once".
    const size = GiB + 64 * MiB + 3
    const { project, oid, sync } = await sessionWithLargeFile(size, 2 * GiB)
    const result = await sync()
    expect(result.applied.map((item) => item.path)).toContain('big.bin')
    const written = path.join(project, 'big.bin')
    const stats = await lstat(written)
    expect(stats.size).toBe(size)
    // Holes stayed holes: a few blocks, not 2 GiB of zeros.
    expect(stats.blocks * 512).toBeLessThan(16 * MiB)
    const handle = await open(written, 'r')
    const tail = Buffer.alloc(13)
    await handle.read(tail, 0, 13, size - 13)
    await handle.close()
    expect(tail.toString()).toBe('start-and-end')
    expect((await execa('git', ['hash-object', written])).stdout.trim()).toBe(oid)
  }, 600_000)

  it('refuses a streamed blob whose bytes are not its id, leaving the project as it was', async () => {
    const { repo, project, oid, sync } = await sessionWithLargeFile(12 * MiB)
    // The history's object swapped for another valid blob of the same size.
    const object = path.join(repo.gitdir, 'objects', oid.slice(0, 2), oid.slice(2))
    const other = Buffer.alloc(12 * MiB, 'x')
    await writeFile(
      object,
      deflateSync(Buffer.concat([Buffer.from(`blob ${other.length}\0`), other])),
    )
    const error = await failure(sync())
    // The object reader proves the id as it streams: a damaged history, said as such.
    expect(error.code).toBe('INTERNAL')
    expect(error.message).toMatch(new RegExp(`${oid}.*content hashes to .*restored as it was`))
    expect((await readdir(project)).sort()).toEqual(['small.txt'])
    expect(await readFile(path.join(project, 'small.txt'), 'utf8')).toBe('small\n')
  })
})

describe('reverting a large file', () => {
  it('streams the old version back into the mirror, sparse, and refuses a damaged one', async () => {
    const { repo } = await createRepo()
    const file = path.join(repo.workDir, 'data.bin')
    await sparseFile(file, 12 * MiB, 'first')
    await snapshot(repo, { message: 'snapshot' })
    await sparseFile(file, 20 * MiB, 'second')
    const edit = await commitChanges(repo, { message: 'bash', paths: ['data.bin'] })
    const second = await readFile(file)

    await revertCommit(repo, { commit: edit?.commit ?? '' })
    const stats = await lstat(file)
    expect(stats.size).toBe(12 * MiB)
    expect(stats.blocks * 512).toBeLessThan(3 * MiB)
    const back = await readFile(file)
    expect(back.subarray(0, 5).toString()).toBe('first')

    // The reverted-to object damaged in the history: the revert fails and the mirror keeps what
    // it had; nothing is committed.
    const oid = git(repo, 'rev-parse', `${edit?.commit ?? ''}:data.bin`).trim()
    const object = path.join(repo.gitdir, 'objects', oid.slice(0, 2), oid.slice(2))
    const other = Buffer.alloc(20 * MiB, 'x')
    await writeFile(
      object,
      deflateSync(Buffer.concat([Buffer.from(`blob ${other.length}\0`), other])),
    )
    const head = await headCommit(repo)
    const error = await failure(revertCommit(repo, { commit: await headCommit(repo) }))
    expect(error.message).toMatch(new RegExp(`${oid}.*hashes to`))
    expect(await headCommit(repo)).toBe(head)
    expect((await readFile(file)).equals(back)).toBe(true)
    expect(second.subarray(0, 6).toString()).toBe('second')
  })
})

describe('streamLooseBlob', () => {
  it('yields a loose blob in bounded chunks, and nothing for an object it does not hold', async () => {
    const { repo } = await createRepo()
    const content = Buffer.alloc(5 * MiB + 7, 'ab')
    await writeFile(path.join(repo.workDir, 'f'), content)
    const oid = git(repo, 'hash-object', '-w', path.join(repo.workDir, 'f')).trim()
    const chunks: Buffer[] = []
    for await (const chunk of (await streamLooseBlob(repo.gitdir, oid)) ?? []) {
      expect(chunk.length).toBeLessThanOrEqual(MiB)
      chunks.push(chunk)
    }
    expect(Buffer.concat(chunks).equals(content)).toBe(true)
    expect(await streamLooseBlob(repo.gitdir, '0'.repeat(40))).toBeUndefined()
  })

  it('refuses an object that is not a blob, or inflates to another size than it declares', async () => {
    const { repo } = await createRepo()
    const drain = async (body: Buffer) => {
      const oid = 'ab'.repeat(20)
      const dir = path.join(repo.gitdir, 'objects', 'ab')
      await mkdir(dir, { recursive: true })
      await writeFile(path.join(dir, oid.slice(2)), deflateSync(body))
      const chunks = (await streamLooseBlob(repo.gitdir, oid)) ?? []
      let bytes = 0
      for await (const chunk of chunks) bytes += chunk.length
      return bytes
    }
    await expect(drain(Buffer.from('tree 3\0abc'))).rejects.toThrow(/not a blob/)
    await expect(drain(Buffer.from('blob 5\0abc'))).rejects.toThrow(/inflates to 3 bytes/)
    await expect(drain(Buffer.from('blob 2\0abc'))).rejects.toThrow(/past the declared 2/)
    await expect(drain(Buffer.from('blob 3abc'))).rejects.toThrow(/no object header/)
  })
})
