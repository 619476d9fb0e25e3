import { open } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { commitChanges, manifestAt, snapshot } from '../../../src/git/index.js'
import { createRepo, git, lsTree, put } from './fixtures.js'

const GiB = 1024 ** 3

/** A sparse file of `size` bytes (no disk) with a few marked bytes at both ends. */
async function sparseFile(file: string, size: number, mark: string): Promise<void> {
  const handle = await open(file, 'w')
  try {
    await handle.write(Buffer.from(mark), 0, mark.length, 0)
    await handle.write(Buffer.from(mark), 0, mark.length, size - mark.length)
    await handle.truncate(size)
  } finally {
    await handle.close()
  }
}

describe('recording large files', () => {
  it('streams a file over 2 GiB into a blob git reads back, without holding it in memory', async () => {
    const { repo } = await createRepo(3 * GiB)
    const size = 2 * GiB + 3
    await sparseFile(path.join(repo.workDir, 'huge.bin'), size, 'start-and-end')
    await put(repo, 'small.txt', 'small\n')

    const { commit, manifest } = await snapshot(repo, { message: 'snapshot' })

    const expected = git(repo, 'hash-object', path.join(repo.workDir, 'huge.bin')).trim()
    expect(manifest['huge.bin']).toEqual({ oid: expected, mode: 0o100644, size })
    expect(lsTree(repo).get('huge.bin')).toBe(`100644 ${expected}`)
    expect(git(repo, 'cat-file', '-s', expected).trim()).toBe(String(size))
    expect((await manifestAt(repo, commit))['huge.bin']?.oid).toBe(expected)
  }, 300_000)

  it('streams a changed large file into a new blob when a call is recorded', async () => {
    const { repo } = await createRepo()
    const file = path.join(repo.workDir, 'data.bin')
    await sparseFile(file, 12 * 1024 * 1024, 'first')
    await snapshot(repo, { message: 'snapshot' })
    await sparseFile(file, 20 * 1024 * 1024, 'second')

    const result = await commitChanges(repo, { message: 'bash', paths: ['data.bin'] })

    expect(result?.changed).toEqual([{ path: 'data.bin', status: 'modified' }])
    const expected = git(repo, 'hash-object', file).trim()
    expect(lsTree(repo).get('data.bin')).toBe(`100644 ${expected}`)
    git(repo, 'fsck', '--strict', '--no-dangling')
  })
})
