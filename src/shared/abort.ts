import { SafeCoderError } from './errors.js'

/** Throws ABORTED when the signal has fired; call at the top of cancellable steps. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) {
    throw new SafeCoderError('ABORTED', `${what} was cancelled.`, { cause: signal.reason })
  }
}

/** Resolves after `ms`, or rejects with ABORTED when the signal fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new SafeCoderError('ABORTED', 'Wait was cancelled.', { cause: signal.reason }))
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new SafeCoderError('ABORTED', 'Wait was cancelled.', { cause: signal?.reason }))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * A controller that aborts when any parent signal aborts. Call `dispose()` when the operation
 * ends so the parents drop their listeners (a long-lived session signal must not accumulate
 * one listener per exec).
 */
export function linkSignals(...parents: (AbortSignal | undefined)[]): {
  controller: AbortController
  dispose: () => void
} {
  const controller = new AbortController()
  const cleanups: (() => void)[] = []
  for (const parent of parents) {
    if (parent === undefined) continue
    if (parent.aborted) {
      controller.abort(parent.reason)
      break
    }
    const onAbort = (): void => {
      controller.abort(parent.reason)
    }
    parent.addEventListener('abort', onAbort, { once: true })
    cleanups.push(() => {
      parent.removeEventListener('abort', onAbort)
    })
  }
  return {
    controller,
    dispose: () => {
      for (const cleanup of cleanups) cleanup()
    },
  }
}
