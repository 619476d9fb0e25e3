import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  commitChanges,
  diffCommits,
  headCommit,
  manifestAt,
  snapshot,
} from '../../../src/git/index.js'
import { createRepo, git, lsTree, put, sparseFile } from './fixtures.js'

const GiB = 1024 ** 3

describe('recording large files', () => {
  it('streams a file over 2 GiB into a blob git reads back, and diffs it by its size', async () => {
    const { repo } = await createRepo(3 * GiB)
    await put(repo, 'small.txt', 'small\n')
    await snapshot(repo, { message: 'snapshot' })
    const size = 2 * GiB + 3
    const file = path.join(repo.workDir, 'huge.bin')
    await sparseFile(file, size, 'start-and-end')

    const result = await commitChanges(repo, { message: 'bash', paths: ['huge.bin'] })

    const expected = git(repo, 'hash-object', file).trim()
    expect(result?.changed).toEqual([{ path: 'huge.bin', status: 'added' }])
    expect(lsTree(repo).get('huge.bin')).toBe(`100644 ${expected}`)
    expect(git(repo, 'cat-file', '-s', expected).trim()).toBe(String(size))
    expect((await manifestAt(repo, await headCommit(repo)))['huge.bin']).toEqual({
      oid: expected,
      mode: 0o100644,
      size,
    })
    // Review summarises it by the size recorded beside the objects, without loading it.
    const [diff] = await diffCommits(repo)
    expect(diff).toMatchObject({ path: 'huge.bin', tooLarge: true, newSize: size, hunks: [] })
  }, 300_000)

  it('streams large files into blobs for the snapshot and for a recorded call', async () => {
    const { repo } = await createRepo()
    const file = path.join(repo.workDir, 'data.bin')
    await sparseFile(file, 12 * 1024 * 1024, 'first')
    const { manifest } = await snapshot(repo, { message: 'snapshot' })
    expect(manifest['data.bin']?.oid).toBe(git(repo, 'hash-object', file).trim())
    await sparseFile(file, 20 * 1024 * 1024, 'second')

    const result = await commitChanges(repo, { message: 'bash', paths: ['data.bin'] })

    expect(result?.changed).toEqual([{ path: 'data.bin', status: 'modified' }])
    expect(lsTree(repo).get('data.bin')).toBe(`100644 ${git(repo, 'hash-object', file).trim()}`)
    git(repo, 'fsck', '--strict', '--no-dangling')
  })
})
