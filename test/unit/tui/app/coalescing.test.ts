import { describe, expect, it } from 'vitest'
import { openRig, settle } from './dashboard-fixture.js'

describe('render coalescing', () => {
  it('paints a flood of events a few times, and never while idle', async () => {
    const rig = openRig()
    await rig.screen()
    const before = rig.paints
    // Nothing changes: nothing is painted.
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(rig.paints).toBe(before)

    rig.bus.emit('exec.started', {
      sessionId: 's1',
      execId: 'e1',
      command: 'yes',
      cwd: '/workspace',
      at: Date.now(),
    })
    for (let i = 0; i < 1000; i++) {
      rig.bus.emit('exec.output', {
        sessionId: 's1',
        execId: 'e1',
        stream: 'stdout',
        text: `y ${i}\n`,
      })
    }
    rig.client.playTurn('s1', 'flood', { text: Array.from({ length: 50 }, () => 'chunk ') })
    const screen = await rig.screen()
    expect(screen).toContain('y 999')
    expect(screen).toContain('chunk chunk')
    expect(rig.paints - before).toBeLessThanOrEqual(3)

    const settled = rig.paints
    await new Promise((resolve) => setTimeout(resolve, 150))
    await settle(rig.dashboard)
    // The gauges may draw one late frame of their own throttle; nothing keeps painting.
    expect(rig.paints - settled).toBeLessThanOrEqual(1)
  })

  it('coalesces typing: a pasted line is one paint, not one per character', async () => {
    const rig = openRig()
    await rig.press('i')
    const before = rig.paints
    await rig.press('x'.repeat(200))
    expect(rig.paints - before).toBeLessThanOrEqual(2)
  })
})
