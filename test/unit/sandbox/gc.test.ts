import { describe, expect, it } from 'vitest'
import { isProcessAlive, reapOrphans } from '../../../src/sandbox/gc.js'
import type {
  ImageInfo,
  ProbeResult,
  Sandbox,
  SandboxBackend,
  SandboxInfo,
} from '../../../src/sandbox/types.js'

/** A backend that only lists and removes: what gc needs. */
class ListingBackend implements SandboxBackend {
  readonly kind = 'docker' as const
  removed: string[] = []
  constructor(private readonly sandboxes: SandboxInfo[]) {}
  probe(): Promise<ProbeResult> {
    return Promise.resolve({ kind: 'docker', available: true, summary: 'fake', details: {} })
  }
  create(): Promise<Sandbox> {
    return Promise.reject(new Error('not used'))
  }
  list(): Promise<SandboxInfo[]> {
    return Promise.resolve(this.sandboxes.filter((s) => !this.removed.includes(s.id)))
  }
  remove(id: string): Promise<void> {
    this.removed.push(id)
    return Promise.resolve()
  }
  imageStatus(): Promise<ImageInfo> {
    return Promise.resolve({ image: 'x', present: true })
  }
}

const info = (id: string, ownerPid: number, ownerHost = 'here'): SandboxInfo => ({
  id,
  kind: 'docker',
  sessionId: `s-${id}`,
  ownerPid,
  ownerHost,
  createdAt: 0,
  projectPath: '/p',
  state: 'running',
})

describe('reapOrphans', () => {
  it('removes sandboxes of dead owners on this host and keeps the rest, saying why', async () => {
    const backend = new ListingBackend([
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
    const backend = new ListingBackend([info('dead', 10)])
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
