import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { commitChanges, readLog, revertCommit, snapshot } from '../../../src/git/index.js'
import { createRepo, put } from './fixtures.js'

describe('a revert and a commit asked for at once', () => {
  // A dashboard revert can come while the agent's commit runs. Each must build on the HEAD the
  // other left, and neither may write into or walk the mirror while the other is half done.
  it('run one after the other: both are in the history, in the order they were asked for', async () => {
    const { repo } = await createRepo()
    await put(repo, 'a.txt', 'original\n')
    await snapshot(repo, { message: 'snapshot' })
    for (let round = 0; round < 5; round++) {
      await put(repo, 'a.txt', `edit ${round}\n`)
      const edit = await commitChanges(repo, { message: `edit ${round}`, paths: ['a.txt'] })
      await put(repo, `b${round}.txt`, 'new\n')
      const [reverted, added] = await Promise.all([
        revertCommit(repo, { commit: edit?.commit ?? '' }),
        commitChanges(repo, { message: `add b${round}`, scan: true }),
      ])
      const log = await readLog(repo, { limit: 3 })
      expect(log.map((c) => c.oid)).toEqual([added?.commit, reverted.commit, edit?.commit])
      expect(log[0]?.files.map((f) => f.path)).toEqual([`b${round}.txt`])
      expect(await readFile(path.join(repo.workDir, 'a.txt'), 'utf8')).toBe('original\n')
    }
  })
})
