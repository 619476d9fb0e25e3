import { describe, expect, it } from 'vitest'
import type { SandboxBackend } from '../../../src/sandbox/types.js'
import {
  discardSessions,
  oneBackendPerEngine,
  pickSessions,
} from '../../../src/session/discard-many.js'
import { SessionStore } from '../../../src/session/store.js'
import { tempDir } from '../../helpers/sandbox.js'

/** A store with sessions whose records say: no base commit yet (empty), or some work. */
async function storeWith(kinds: ('empty' | 'worked')[]) {
  const store = new SessionStore(await tempDir('safe-coder-state-'))
  const ids: string[] = []
  for (const kind of kinds) {
    const record = await store.create('/project', 'docker', 'unix:///var/run/docker.sock')
    await store.write({ ...record, status: 'stopped', baseCommit: 'base', commits: 0 })
    ids.push(record.id)
    if (kind === 'worked') await store.write({ ...(await store.read(record.id)), commits: 1 })
  }
  const heads = new Map(ids.map((id, i) => [id, kinds[i] === 'worked' ? 'c1' : 'base']))
  return { store, ids, headOf: (id: string) => Promise.resolve(heads.get(id)) }
}

describe('pickSessions', () => {
  it('picks every session of the store that matches all filters', async () => {
    const { store, ids, headOf } = await storeWith(['empty', 'worked', 'empty'])
    const { picked, kept, unreadable } = await pickSessions({
      store,
      ids: [],
      filter: { empty: true },
      headOf,
      now: Date.now(),
    })
    expect(picked.map((r) => r.id).sort()).toEqual([ids[0], ids[2]].sort())
    expect(kept).toEqual([{ id: ids[1], failed: ['--empty'] }])
    expect(unreadable).toEqual([])
  })

  it('narrows the named sessions, reporting ids that cannot be read', async () => {
    const { store, ids, headOf } = await storeWith(['empty', 'worked'])
    const missing = 's-aaaaaaaa-00000000'
    const { picked, kept, unreadable } = await pickSessions({
      store,
      ids: [ids[1] ?? '', missing, ids[0] ?? ''],
      filter: {},
      headOf,
      now: Date.now(),
    })
    expect(picked.map((r) => r.id)).toEqual([ids[1], ids[0]])
    expect(kept).toEqual([])
    expect(unreadable.map((u) => u.id)).toEqual([missing])
  })
})

describe('discardSessions', () => {
  it('discards each one, a failure not stopping the others', async () => {
    const { store, ids } = await storeWith(['empty', 'empty', 'empty'])
    const done: string[] = []
    const outcomes = await discardSessions({
      store,
      ids: [ids[0] ?? '', 's-aaaaaaaa-00000000', ids[2] ?? ''],
      backendFor: () => {
        throw new Error('no sandbox recorded: no backend needed')
      },
      concurrency: 2,
      onDone: (o) => done.push(o.id),
    })
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true])
    expect(done.sort()).toEqual([ids[0], 's-aaaaaaaa-00000000', ids[2]].sort())
    expect((await store.list()).sessions.map((r) => r.id)).toEqual([ids[1]])
  })
})

describe('oneBackendPerEngine', () => {
  it('makes one backend per engine', async () => {
    const { store, ids } = await storeWith(['empty', 'empty'])
    const records = await Promise.all(ids.map((id) => store.read(id)))
    const other = { ...(records[0] as (typeof records)[0]), id: 's-bbbbbbbb-00000000', engine: 'x' }
    let made = 0
    const backendFor = oneBackendPerEngine([...records, other], () => {
      made++
      return {} as SandboxBackend
    })
    expect(backendFor(ids[0] ?? '')).toBe(backendFor(ids[1] ?? ''))
    expect(backendFor(other.id)).not.toBe(backendFor(ids[0] ?? ''))
    expect(made).toBe(2)
  })
})
