import { describe, expect, it } from 'vitest'
import { createBus } from '../../../src/bus/bus.js'
import { DisposableStore, toDisposable } from '../../../src/bus/disposable.js'

interface Events {
  ping: { n: number }
  pong: { text: string }
}

describe('createBus', () => {
  it('delivers typed payloads to listeners of that event and to onAny', () => {
    const bus = createBus<Events>({ backlog: 0 })
    const pings: number[] = []
    const all: string[] = []
    bus.on('ping', (p) => pings.push(p.n))
    bus.onAny((e) => all.push(e.name))
    bus.emit('ping', { n: 1 })
    bus.emit('pong', { text: 'x' })
    expect(pings).toEqual([1])
    expect(all).toEqual(['ping', 'pong'])
  })

  it('isolates a throwing listener and reports it', () => {
    const errors: string[] = []
    const bus = createBus<Events>({
      backlog: 0,
      onListenerError: (e, name) => errors.push(`${name}:${String(e)}`),
    })
    const got: number[] = []
    bus.on('ping', () => {
      throw new Error('boom')
    })
    bus.on('ping', (p) => got.push(p.n))
    bus.emit('ping', { n: 2 })
    expect(got).toEqual([2])
    expect(errors).toEqual(['ping:Error: boom'])
  })

  it('unsubscribes by dispose and by abort signal', () => {
    const bus = createBus<Events>({ backlog: 0 })
    const got: number[] = []
    const sub = bus.on('ping', (p) => got.push(p.n))
    const controller = new AbortController()
    bus.on('ping', (p) => got.push(p.n * 10), { signal: controller.signal })
    bus.emit('ping', { n: 1 })
    sub.dispose()
    controller.abort()
    bus.emit('ping', { n: 2 })
    expect(got).toEqual([1, 10])
  })

  it('keeps early events for the first subscriber, bounded', () => {
    const bus = createBus<Events>({ backlog: 2 })
    bus.emit('ping', { n: 1 })
    bus.emit('ping', { n: 2 })
    bus.emit('pong', { text: 'three' })
    const first: string[] = []
    bus.onAny((e) => first.push(e.name === 'ping' ? String(e.payload.n) : e.payload.text))
    const second: string[] = []
    bus.onAny((e) => second.push(e.name))
    expect(first).toEqual(['2', 'three'])
    expect(second).toEqual([])
  })
})

describe('DisposableStore', () => {
  it('disposes everything once, in reverse order, and at once when added late', () => {
    const order: string[] = []
    const store = new DisposableStore()
    store.add(toDisposable(() => order.push('a')))
    store.add(toDisposable(() => order.push('b')))
    store.dispose()
    store.dispose()
    store.add(toDisposable(() => order.push('late')))
    expect(order).toEqual(['b', 'a', 'late'])
  })

  it('disposes the rest when one throws, then rethrows', () => {
    const order: string[] = []
    const store = new DisposableStore()
    store.add(toDisposable(() => order.push('a')))
    store.add(
      toDisposable(() => {
        throw new Error('bad')
      }),
    )
    expect(() => {
      store.dispose()
    }).toThrow('bad')
    expect(order).toEqual(['a'])
  })
})
