import type { ReadableStreamReadResult } from 'node:stream/web'

/** Aborts the request when no stream part arrives for `timeoutMs` while we wait for one. */
export class Watchdog {
  fired = false
  private timer: NodeJS.Timeout | undefined
  private readonly interrupted: Promise<never>

  constructor(
    private readonly controller: AbortController,
    private readonly timeoutMs: number,
  ) {
    const signal = controller.signal
    this.interrupted = new Promise<never>((_, reject) => {
      const onAbort = (): void => {
        reject(new Error('interrupted'))
      }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
    this.interrupted.catch(() => undefined)
  }

  /** The next part, raced against the signal so an abort or a stall ends the wait at once. */
  async read<T>(reader: ReadableStreamDefaultReader<T>): Promise<ReadableStreamReadResult<T>> {
    if (Number.isFinite(this.timeoutMs) && this.timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.fired = true
        this.controller.abort(new Error('idle stream'))
      }, this.timeoutMs)
    }
    try {
      return await Promise.race([reader.read(), this.interrupted])
    } finally {
      this.stop()
    }
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }
}
