import { toDisposable, type Disposable } from './disposable.js'

export type Listener<T> = (payload: T) => void

/** One event as it travels on the bus, for listeners of every event. */
export type Envelope<M> = { [K in keyof M]: { name: K; payload: M[K] } }[keyof M]

export interface BusOptions {
  /** Events kept for the first subscriber, so nothing emitted during start-up is lost. */
  backlog?: number
  /** Where listener failures go; a throwing listener never breaks the emitter or others. */
  onListenerError?: (error: unknown, event: string) => void
}

export interface SubscribeOptions {
  signal?: AbortSignal
  /**
   * false: do not take the start-up backlog. For side listeners (an event socket, a log) that
   * must not drain what the main subscriber (the dashboard, the printer) has yet to see.
   */
  replay?: boolean
}

export interface Bus<M> {
  emit<K extends keyof M>(name: K, payload: M[K]): void
  on<K extends keyof M>(name: K, listener: Listener<M[K]>, options?: SubscribeOptions): Disposable
  onAny(listener: Listener<Envelope<M>>, options?: SubscribeOptions): Disposable
}

/** A typed event bus: plain-data payloads, disposable subscriptions, isolated listeners. */
export function createBus<M>(options: BusOptions = {}): Bus<M> {
  const byName = new Map<keyof M, Set<Listener<never>>>()
  const any = new Set<Listener<Envelope<M>>>()
  const backlogLimit = options.backlog ?? 1000
  let backlog: Envelope<M>[] | undefined = backlogLimit > 0 ? [] : undefined
  const report = options.onListenerError ?? (() => undefined)

  const call = <T>(listener: Listener<T>, payload: T, name: keyof M): void => {
    try {
      listener(payload)
    } catch (error) {
      report(error, String(name))
    }
  }

  /** The first subscriber drains what was emitted before anyone listened. */
  const replay = (deliver: (event: Envelope<M>) => void): void => {
    if (backlog === undefined) return
    const pending = backlog
    backlog = undefined
    for (const event of pending) deliver(event)
  }

  const subscribe = <T>(
    set: Set<Listener<T>>,
    listener: Listener<T>,
    signal?: AbortSignal,
  ): Disposable => {
    if (signal?.aborted === true) return toDisposable(() => undefined)
    set.add(listener)
    const subscription = toDisposable(() => {
      set.delete(listener)
      signal?.removeEventListener('abort', onAbort)
    })
    const onAbort = (): void => {
      subscription.dispose()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    return subscription
  }

  return {
    emit(name, payload) {
      const listeners = byName.get(name)
      if (backlog !== undefined) {
        backlog.push({ name, payload })
        if (backlog.length > backlogLimit) backlog.shift()
      }
      if (listeners !== undefined)
        for (const l of [...listeners]) call(l as Listener<typeof payload>, payload, name)
      for (const l of [...any]) call(l, { name, payload }, name)
    },
    on(name, listener, opts) {
      let set = byName.get(name)
      if (set === undefined) {
        set = new Set()
        byName.set(name, set)
      }
      const subscription = subscribe(set as Set<typeof listener>, listener, opts?.signal)
      if (opts?.replay === false) return subscription
      replay((event) => {
        if (event.name === name)
          call(listener, event.payload as Parameters<typeof listener>[0], name)
      })
      return subscription
    },
    onAny(listener, opts) {
      const subscription = subscribe(any, listener, opts?.signal)
      if (opts?.replay === false) return subscription
      replay((event) => {
        call(listener, event, event.name)
      })
      return subscription
    },
  }
}
