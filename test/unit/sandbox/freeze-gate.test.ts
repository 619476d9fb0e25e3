import { describe, expect, it } from 'vitest'
import { FreezeGate, type Freezer } from '../../../src/sandbox/freeze-gate.js'

/** A promise the test settles, and one that fires when the code under test reaches a point. */
function latch<T = void>() {
  let resolve: (value: T) => void = () => undefined
  let reject: (error: unknown) => void = () => undefined
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** A freezer whose calls are logged and held open until the test lets them finish. */
function scriptedFreezer() {
  const log: string[] = []
  const pending: { kind: 'freeze' | 'thaw'; done: ReturnType<typeof latch<boolean>> }[] = []
  const waiters: (() => void)[] = []
  const call = (kind: 'freeze' | 'thaw') => {
    log.push(kind)
    const done = latch<boolean>()
    pending.push({ kind, done })
    for (const wake of waiters.splice(0)) wake()
    return done.promise
  }
  const freezer: Freezer = {
    freeze: () => call('freeze'),
    thaw: async () => {
      await call('thaw')
    },
  }
  /** Resolves with the next unanswered call once it has been made. */
  const next = async (kind: 'freeze' | 'thaw') => {
    for (;;) {
      const found = pending.find((p) => p.kind === kind)
      if (found !== undefined) {
        pending.splice(pending.indexOf(found), 1)
        return found.done
      }
      await new Promise<void>((wake) => waiters.push(wake))
    }
  }
  return { freezer, log, next }
}

describe('FreezeGate', () => {
  it('freezes once for overlapping holds and thaws after the last, also when work fails', async () => {
    const { freezer, log, next } = scriptedFreezer()
    const gate = new FreezeGate(freezer)
    const first = latch()
    const second = latch()
    const a = gate.frozen(async () => {
      log.push('a')
      await first.promise
      return 'a'
    })
    const b = gate.frozen(async () => {
      log.push('b')
      await second.promise
      throw new Error('b failed')
    })
    ;(await next('freeze')).resolve(true)
    first.resolve()
    expect(await a).toBe('a')
    expect(log).toEqual(['freeze', 'a', 'b'])
    second.resolve()
    const thaw = await next('thaw')
    expect(log).toEqual(['freeze', 'a', 'b', 'thaw'])
    thaw.resolve(true)
    await expect(b).rejects.toThrow('b failed')
  })

  it('runs thawed work only while nothing is frozen, and freezes only once it is done', async () => {
    const { freezer, log, next } = scriptedFreezer()
    const gate = new FreezeGate(freezer)
    const exec = latch()
    const running = gate.thawed(async () => {
      log.push('exec started')
      await exec.promise
      log.push('exec done')
    })
    const hold = gate.frozen(() => {
      log.push('commit')
      return Promise.resolve()
    })
    const later = gate.thawed(() => {
      log.push('later exec')
      return Promise.resolve()
    })
    exec.resolve()
    await running
    ;(await next('freeze')).resolve(true)
    ;(await next('thaw')).resolve(true)
    await Promise.all([hold, later])
    expect(log).toEqual(['exec started', 'exec done', 'freeze', 'commit', 'thaw', 'later exec'])
  })

  it('lets a hold that comes during a thaw wait for it before freezing again', async () => {
    const { freezer, log, next } = scriptedFreezer()
    const gate = new FreezeGate(freezer)
    const first = gate.frozen(() => Promise.resolve(1))
    ;(await next('freeze')).resolve(true)
    const thaw = await next('thaw')
    const second = gate.frozen(() => Promise.resolve(2))
    expect(log).toEqual(['freeze', 'thaw'])
    thaw.resolve(true)
    expect(await first).toBe(1)
    ;(await next('freeze')).resolve(true)
    ;(await next('thaw')).resolve(true)
    expect(await second).toBe(2)
    expect(log).toEqual(['freeze', 'thaw', 'freeze', 'thaw'])
  })

  it('does not run the work when freezing fails, and tries again for the next hold', async () => {
    const { freezer, log, next } = scriptedFreezer()
    const gate = new FreezeGate(freezer)
    let ran = false
    const failed = gate.frozen(() => {
      ran = true
      return Promise.resolve()
    })
    ;(await next('freeze')).reject(new Error('cannot pause'))
    await expect(failed).rejects.toThrow('cannot pause')
    expect(ran).toBe(false)
    const retried = gate.frozen(() => Promise.resolve('ok'))
    ;(await next('freeze')).resolve(true)
    ;(await next('thaw')).resolve(true)
    expect(await retried).toBe('ok')
    expect(log).toEqual(['freeze', 'freeze', 'thaw'])
  })

  it('does not thaw what it did not freeze (gone, or frozen by someone else)', async () => {
    const { freezer, log, next } = scriptedFreezer()
    const gate = new FreezeGate(freezer)
    const done = gate.frozen(() => Promise.resolve('ran'))
    ;(await next('freeze')).resolve(false)
    expect(await done).toBe('ran')
    expect(log).toEqual(['freeze'])
    expect(await gate.thawed(() => Promise.resolve('after'))).toBe('after')
  })

  it('reports a failed thaw to the holder and stays usable', async () => {
    const { freezer, next } = scriptedFreezer()
    const gate = new FreezeGate(freezer)
    const held = gate.frozen(() => Promise.resolve('work'))
    ;(await next('freeze')).resolve(true)
    ;(await next('thaw')).reject(new Error('cannot unpause'))
    await expect(held).rejects.toThrow('cannot unpause')
    expect(await gate.thawed(() => Promise.resolve('exec'))).toBe('exec')
  })
})
