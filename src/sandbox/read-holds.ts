/**
 * Backpressure from an output reader to the stream a command's output arrives on: while any
 * reader's wait is pending the stream is paused (the other end then stops reading the command's
 * pipes), and it resumes when the last wait settles, fails, or its signal fires.
 */
export class ReadHolds {
  #holds = 0

  constructor(
    private readonly stream: { pause(): unknown; resume(): unknown },
    /** False once the stream is finished with: it is then left alone. */
    private readonly live: () => boolean = () => true,
  ) {}

  /** Pauses until `wait` settles or `signal` fires, whichever is first. */
  hold(wait: Promise<unknown>, signal?: AbortSignal): void {
    if (this.#holds++ === 0) this.stream.pause()
    let release = (): void => undefined
    const cancelled = new Promise<void>((resolve) => {
      release = resolve
    })
    signal?.addEventListener('abort', release, { once: true })
    if (signal?.aborted === true) release()
    void Promise.race([wait, cancelled])
      .catch(() => undefined)
      .finally(() => {
        signal?.removeEventListener('abort', release)
        if (--this.#holds === 0 && this.live()) this.stream.resume()
      })
  }

  /** Readers waiting right now. */
  get count(): number {
    return this.#holds
  }
}
