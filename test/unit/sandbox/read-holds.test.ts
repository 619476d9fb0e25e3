import { describe, expect, it } from 'vitest'
import { ReadHolds } from '../../../src/sandbox/read-holds.js'

function fakeStream() {
  const calls: string[] = []
  return {
    calls,
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('ReadHolds', () => {
  it('pauses once for overlapping waits and resumes when the last one settles', async () => {
    const stream = fakeStream()
    const holds = new ReadHolds(stream)
    let first = (): void => undefined
    let second = (): void => undefined
    holds.hold(new Promise<void>((resolve) => (first = resolve)))
    holds.hold(new Promise<void>((resolve) => (second = resolve)))
    expect(stream.calls).toEqual(['pause'])
    first()
    await settle()
    expect(stream.calls).toEqual(['pause'])
    expect(holds.count).toBe(1)
    second()
    await settle()
    expect(stream.calls).toEqual(['pause', 'resume'])
    expect(holds.count).toBe(0)
  })

  it('lets go on a failed wait and on the signal, and leaves a finished stream alone', async () => {
    const stream = fakeStream()
    let live = true
    const holds = new ReadHolds(stream, () => live)
    holds.hold(Promise.reject(new Error('reader gone')))
    await settle()
    expect(stream.calls).toEqual(['pause', 'resume'])

    const controller = new AbortController()
    holds.hold(new Promise(() => undefined), controller.signal)
    controller.abort()
    await settle()
    expect(stream.calls).toEqual(['pause', 'resume', 'pause', 'resume'])

    holds.hold(new Promise(() => undefined), AbortSignal.abort())
    live = false
    await settle()
    expect(stream.calls).toEqual(['pause', 'resume', 'pause', 'resume', 'pause'])
    expect(holds.count).toBe(0)
  })
})
