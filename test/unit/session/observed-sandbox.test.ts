import { describe, expect, it } from 'vitest'
import { createBus } from '../../../src/bus/bus.js'
import type { EventMap } from '../../../src/bus/events.js'
import { observeSandbox } from '../../../src/session/observed-sandbox.js'
import { FakeSandbox } from '../../helpers/fake-sandbox.js'

/** A sandbox with a microVM's mirror capabilities, recording what reached it. */
class MirroringSandbox extends FakeSandbox {
  readonly pushed: string[][] = []
  syncIn(paths: string[]): Promise<void> {
    this.pushed.push(paths)
    return Promise.resolve()
  }
  syncOut(): Promise<string[]> {
    return Promise.resolve(['pulled.txt'])
  }
}

describe('observeSandbox', () => {
  it("passes the mirror capabilities through: a revert's paths reach a microVM, holds reach the sandbox", async () => {
    const inner = new MirroringSandbox()
    const observed = observeSandbox(inner, 's-test', createBus<EventMap>())
    await observed.syncIn?.(['reverted.txt'])
    expect(inner.pushed).toEqual([['reverted.txt']])
    expect(await observed.syncOut?.()).toEqual(['pulled.txt'])
    expect(await observed.whileFrozen(() => Promise.resolve('held'))).toBe('held')
    expect(inner.frozenHolds).toBe(1)
    // A container has no syncIn: the wrapper does not invent one.
    expect('syncIn' in observeSandbox(new FakeSandbox(), 's-test', createBus<EventMap>())).toBe(
      false,
    )
  })
})
