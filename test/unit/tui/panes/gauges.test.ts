import { describe, expect, it } from 'vitest'
import { createGaugesPane } from '../../../../src/tui/panes/gauges.js'
import type { StatsView } from '../../../../src/tui/state/types.js'
import { createContext, draw, openScreen, place, sessionView, viewState } from './pane-fixtures.js'

const MiB = 1024 * 1024

function stats(cpu: number[], memMiB: number[], at: number): StatsView {
  return {
    cpuPercent: cpu,
    memoryBytes: memMiB.map((m) => m * MiB),
    latest: {
      at,
      cpuPercent: cpu.at(-1) ?? 0,
      memoryBytes: (memMiB.at(-1) ?? 0) * MiB,
      memoryLimitBytes: 2048 * MiB,
      pids: 12,
      blockReadBytes: 1.5 * MiB,
      blockWriteBytes: 340 * 1024,
      netRxBytes: 3 * MiB,
      netTxBytes: 12 * 1024,
    },
    startedAt: 0,
  }
}

function setup(height = 12) {
  const { term, screen } = openScreen(50, height)
  const session = sessionView('s1', { status: 'busy' })
  const state = viewState(session)
  const ctx = createContext(screen, () => state)
  let clock = 0
  const pane = createGaugesPane(ctx, { now: () => clock })
  place(pane, 40, height)
  const tick = (ms: number): void => {
    clock = ms
  }
  return { term, screen, state, session, ctx, pane, tick }
}

describe('the resource gauges', () => {
  it('waits for the sandbox before any stats arrive', async () => {
    const t = setup()
    const lines = await draw(t.term, t.screen, t.pane, t.state)
    expect(lines.join('\n')).toContain('waiting for the sandbox…')
  })

  it('shows cpu, memory against the limit, pids, I/O, uptime and history sparklines', async () => {
    const t = setup()
    t.tick(192_000)
    t.session.stats = stats([0, 10, 50, 100, 42], [256, 512, 1024, 512], 191_000)
    const text = (await draw(t.term, t.screen, t.pane, t.state)).join('\n')
    expect(text).toMatch(/cpu\s+42% █+░+/)
    expect(text).toMatch(/mem\s+25% █+░+/)
    expect(text).toContain('512 MiB / 2.0 GiB')
    expect(text).toContain('▁▂▅█▄')
    expect(text).toContain('▂▃▅▃')
    expect(text).toMatch(/pids\s+12\s+up 3m 12s/)
    expect(text).toMatch(/disk\s+r 1\.5 MiB {2}w 340 KiB/)
    expect(text).toMatch(/net\s+rx 3\.0 MiB {2}tx 12 KiB/)
  })

  it('drops the history graphs first when the pane is short', async () => {
    const t = setup(8)
    t.session.stats = stats([5, 10], [100, 200], 1)
    const text = (await draw(t.term, t.screen, t.pane, t.state)).join('\n')
    expect(text).toContain('cpu')
    expect(text).toContain('net')
    expect(text).not.toMatch(/[▁▂▃▄▅▆▇]/)
  })

  it('redraws at most every 250 ms, and draws a held-back change when the interval ends', async () => {
    const t = setup()
    t.session.stats = stats([10], [100], 1)
    t.pane.render(t.state)
    expect(t.pane.box.content).toContain('10%')

    t.tick(100)
    t.session.stats = stats([10, 20], [100, 100], 2)
    t.pane.render(t.state)
    expect(t.pane.box.content).toContain('10%')
    // The throttle asks for a frame once the 250 ms are up.
    await expect.poll(() => t.ctx.invalidations, { timeout: 2000 }).toBe(1)

    t.tick(260)
    t.pane.render(t.state)
    expect(t.pane.box.content).toContain('20%')

    // Nothing new: only the uptime would change, so once a second.
    const drawn = t.pane.box.content
    t.tick(900)
    t.session.stats.startedAt = -5000
    t.pane.render(t.state)
    expect(t.pane.box.content).toBe(drawn)
    t.tick(1300)
    t.pane.render(t.state)
    expect(t.pane.box.content).not.toBe(drawn)
  })
})
