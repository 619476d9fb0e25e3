import { describe, expect, it } from 'vitest'
import { isProcessAlive, reapOrphans } from '../../../src/sandbox/gc.js'
import { FakeBackend, sandboxInfo } from '../../helpers/fake-backend.js'

const info = (id: string, ownerPid: number, ownerHost = 'here') =>
  sandboxInfo(id, `s-${id}`, ownerPid, ownerHost)

describe('reapOrphans', () => {
  it('removes sandboxes of dead owners on this host and keeps the rest, saying why', async () => {
    const backend = new FakeBackend([
      info('dead', 10),
      info('alive', 11),
      info('elsewhere', 10, 'other-host'),
    ])
    const result = await reapOrphans(backend, { host: 'here', isAlive: (pid) => pid === 11 })
    expect(result.removed.map((s) => s.id)).toEqual(['dead'])
    expect(backend.removed).toEqual(['dead'])
    expect(result.kept.map((k) => [k.sandbox.id, k.why])).toEqual([
      ['alive', 'owner process 11 is running'],
      ['elsewhere', 'owned by host other-host'],
    ])
  })

  it('removes nothing on a dry run', async () => {
    const backend = new FakeBackend([info('dead', 10)])
    const result = await reapOrphans(backend, { host: 'here', isAlive: () => false, dryRun: true })
    expect(result.removed).toHaveLength(1)
    expect(backend.removed).toEqual([])
  })

  it('knows this process is alive and a reaped child is not', async () => {
    expect(isProcessAlive(process.pid)).toBe(true)
    const { execa } = await import('execa')
    const child = execa('true')
    const pid = child.pid
    await child
    expect(pid).toBeGreaterThan(0)
    expect(isProcessAlive(pid ?? 0)).toBe(false)
  })
})
