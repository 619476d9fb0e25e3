/** Coalesces redraw requests into frames: at most one `draw()` per frame, none when idle. */
export interface RenderLoop {
  /** Asks for a frame; any number of requests before it runs make one frame. */
  request(): void
  /** Resolves once no frame is waiting (at once when idle). */
  idle(): Promise<void>
  /** Cancels a waiting frame; later requests do nothing. */
  dispose(): void
}

export interface RenderLoopOptions {
  /** Frames per second at most (`[tui] fps`). */
  fps: number
  draw(): void
  /** Where a failing `draw()` goes; the loop keeps running. */
  onError(error: unknown): void
  now?: () => number
}

/**
 * Frames run on a timer, never inside the event that asked for them, so a burst of bus events
 * in one tick draws once; a frame right after another waits out the rest of the frame time.
 */
export function createRenderLoop(options: RenderLoopOptions): RenderLoop {
  const frameMs = 1000 / Math.max(1, options.fps)
  const now = options.now ?? (() => performance.now())
  let last = -Infinity
  let timer: NodeJS.Timeout | undefined
  let disposed = false
  let waiters: (() => void)[] = []

  const pending = (): boolean => timer !== undefined
  const settle = (): void => {
    const pending = waiters
    waiters = []
    for (const resolve of pending) resolve()
  }

  const frame = (): void => {
    timer = undefined
    last = now()
    try {
      options.draw()
    } catch (error) {
      options.onError(error)
    }
    // A draw may ask for another frame (a pane that needs a second pass); wait for that too.
    if (!pending()) settle()
  }

  return {
    request() {
      if (disposed || timer !== undefined) return
      const wait = Math.max(0, last + frameMs - now())
      timer = setTimeout(frame, wait)
    },
    idle() {
      if (timer === undefined) return Promise.resolve()
      return new Promise((resolve) => waiters.push(resolve))
    },
    dispose() {
      disposed = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      settle()
    },
  }
}
