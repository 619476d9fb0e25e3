import { describe, expect, it } from 'vitest'
import { createBus } from '../../../src/bus/bus.js'
import type { EventMap } from '../../../src/bus/events.js'
import { ApprovalGate } from '../../../src/session/approvals.js'

const call = { callId: 'c1', tool: 'bash', kind: 'exec' as const, args: 'rm -rf build' }

describe('ApprovalGate', () => {
  it('lets reads through under every policy and everything through under auto', async () => {
    const bus = createBus<EventMap>()
    const signal = new AbortController().signal
    for (const policy of ['auto', 'ask', 'deny'] as const) {
      const gate = new ApprovalGate('s', { policy, interactive: false }, bus)
      expect(await gate.decide({ ...call, kind: 'read' }, signal)).toEqual({
        approved: true,
        by: 'policy',
      })
    }
    const auto = new ApprovalGate('s', { policy: 'auto', interactive: false }, bus)
    expect((await auto.decide(call, signal)).approved).toBe(true)
  })

  it('asks on the bus and waits for the answer', async () => {
    const bus = createBus<EventMap>({ backlog: 0 })
    const gate = new ApprovalGate('s', { policy: 'ask', interactive: true }, bus)
    const resolved: boolean[] = []
    bus.on('approval.resolved', (e) => resolved.push(e.approved))
    bus.on('approval.requested', (e) => {
      expect(e).toMatchObject({ tool: 'bash', args: 'rm -rf build', callId: 'c1' })
      setTimeout(() => gate.resolve(e.requestId, true), 5)
    })
    expect(await gate.decide(call, new AbortController().signal)).toEqual({
      approved: true,
      by: 'user',
    })
    expect(resolved).toEqual([true])
  })

  it('denies without waiting when no one can answer, or under deny', async () => {
    const bus = createBus<EventMap>()
    const signal = new AbortController().signal
    const headless = new ApprovalGate('s', { policy: 'ask', interactive: false }, bus)
    expect(await headless.decide(call, signal)).toEqual({ approved: false, by: 'policy' })
    const deny = new ApprovalGate('s', { policy: 'deny', interactive: true }, bus)
    expect(await deny.decide(call, signal)).toEqual({ approved: false, by: 'policy' })
  })

  it('gives up waiting when the turn is cancelled', async () => {
    const bus = createBus<EventMap>()
    const gate = new ApprovalGate('s', { policy: 'ask', interactive: true }, bus)
    const controller = new AbortController()
    const decision = gate.decide(call, controller.signal)
    controller.abort()
    await expect(decision).rejects.toMatchObject({ code: 'ABORTED' })
  })
})
