import { describe, expect, it } from 'vitest'
import { createRenderLoop } from '../../../../src/tui/render-loop.js'

describe('createRenderLoop', () => {
  it('draws once for any number of requests in a tick, and not at all when idle', async () => {
    let draws = 0
    const loop = createRenderLoop({
      fps: 30,
      draw: () => draws++,
      onError: (e) => {
        throw e
      },
    })
    await loop.idle()
    expect(draws).toBe(0)
    for (let i = 0; i < 1000; i++) loop.request()
    await loop.idle()
    expect(draws).toBe(1)
    await new Promise((r) => setTimeout(r, 50))
    expect(draws).toBe(1)
    loop.dispose()
  })

  it('spaces frames by the frame time', async () => {
    const times: number[] = []
    const loop = createRenderLoop({
      fps: 20,
      draw: () => times.push(performance.now()),
      onError: () => undefined,
    })
    loop.request()
    await loop.idle()
    loop.request()
    await loop.idle()
    expect(times).toHaveLength(2)
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(45)
    loop.dispose()
  })

  it('reports a failing draw and keeps going', async () => {
    const errors: unknown[] = []
    let fail = true
    let draws = 0
    const loop = createRenderLoop({
      fps: 60,
      draw: () => {
        draws++
        if (fail) throw new Error('boom')
      },
      onError: (e) => errors.push(e),
    })
    loop.request()
    await loop.idle()
    fail = false
    loop.request()
    await loop.idle()
    expect(errors).toHaveLength(1)
    expect(draws).toBe(2)
    loop.dispose()
    loop.request()
    await loop.idle()
    expect(draws).toBe(2)
  })
})
