import { describe, expect, it } from 'vitest'
import { isSafeCoderError } from '../../../src/shared/errors.js'
import { createTaskPool } from '../../../src/workspace/task-pool.js'

/** A task that stays pending until released, counting how many run at once. */
function gate() {
  let release = (): void => undefined
  const opened = new Promise<void>((resolve) => {
    release = resolve
  })
  return { opened, release }
}

describe('createTaskPool', () => {
  it('never runs more than the limit at once, including tasks added by tasks', async () => {
    const pool = createTaskPool(3)
    let running = 0
    let peak = 0
    let ran = 0
    const task = async (): Promise<void> => {
      running++
      peak = Math.max(peak, running)
      await new Promise((resolve) => setImmediate(resolve))
      running--
      ran++
      if (ran <= 10) pool.add(task)
    }
    for (let i = 0; i < 10; i++) pool.add(task)
    await pool.done()
    expect(peak).toBe(3)
    expect(ran).toBe(20)
  })

  it('resolves at once when given nothing', async () => {
    await expect(createTaskPool(2).done()).resolves.toBeUndefined()
  })

  it('stops starting tasks after a failure and rejects once the running ones settle', async () => {
    const pool = createTaskPool(2)
    const slow = gate()
    let finishedSlow = false
    let startedLater = false
    pool.add(async () => {
      await slow.opened
      finishedSlow = true
    })
    pool.add(() => Promise.reject(new Error('boom')))
    pool.add(async () => {
      startedLater = true
      await Promise.resolve()
    })
    const done = pool.done()
    slow.release()
    await expect(done).rejects.toThrow('boom')
    expect(finishedSlow).toBe(true)
    expect(startedLater).toBe(false)
  })

  it('rejects with ABORTED when the signal fires, after in-flight tasks finish', async () => {
    const controller = new AbortController()
    const pool = createTaskPool(1, controller.signal)
    const first = gate()
    let later = 0
    pool.add(() => first.opened)
    for (let i = 0; i < 5; i++) {
      pool.add(async () => {
        later++
        await Promise.resolve()
      })
    }
    const done = pool.done().then(
      () => undefined,
      (error: unknown) => error,
    )
    controller.abort()
    first.release()
    const error = await done
    expect(isSafeCoderError(error, 'ABORTED')).toBe(true)
    expect(later).toBe(0)
  })
})
