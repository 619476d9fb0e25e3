/**
 * Host work on a sandbox's mirror happens while nothing in the sandbox can change it (DESIGN.md
 * §1). A gate has two kinds of users. `frozen` work (a commit's scan, a revert) runs with the
 * sandbox frozen; such holds may overlap: the first freezes, the last to finish thaws, whatever
 * each piece of work did. `thawed` work (an exec starting in a container, which a paused engine
 * refuses; a microVM's pull into the mirror) runs only while no hold is active, and a freeze
 * first waits for the thawed work already under way. A new hold that comes while a thaw is
 * still on its way waits for it, so freeze and thaw never cross.
 *
 * Frozen work must not use the sandbox itself: it would wait for its own thaw.
 */
export interface Freezer {
  /** Freezes the sandbox; false when there is nothing to thaw afterwards (already frozen, gone). */
  freeze(): Promise<boolean>
  thaw(): Promise<void>
}

interface Signal {
  promise: Promise<void>
  fire: () => void
}

interface Cycle {
  frozen: Promise<boolean>
  /** Fires once the cycle's thaw is over. */
  over: Signal
}

export class FreezeGate {
  #holds = 0
  #cycle: Cycle | undefined
  #thawedWork = 0
  #drained: Signal | undefined

  constructor(private readonly freezer: Freezer) {}

  /**
   * Runs `work` with the sandbox frozen and resolves with its result. When freezing fails the
   * work does not run. The thaw runs in `finally`; when it fails, its error is what the caller
   * gets.
   */
  async frozen<T>(work: () => Promise<T>): Promise<T> {
    while (this.#cycle !== undefined && this.#holds === 0) await this.#cycle.over.promise
    if (this.#holds++ === 0) this.#cycle = this.#start()
    const cycle = this.#cycle as Cycle
    try {
      await cycle.frozen
      return await work()
    } finally {
      if (--this.#holds === 0) {
        try {
          if (await cycle.frozen.catch(() => false)) await this.freezer.thaw()
        } finally {
          this.#cycle = undefined
          cycle.over.fire()
        }
      }
    }
  }

  /** Runs `work` once no hold is active; holds that come meanwhile wait for it to finish. */
  async thawed<T>(work: () => Promise<T>): Promise<T> {
    while (this.#cycle !== undefined) await this.#cycle.over.promise
    this.#thawedWork++
    try {
      return await work()
    } finally {
      if (--this.#thawedWork === 0) {
        this.#drained?.fire()
        this.#drained = undefined
      }
    }
  }

  #start(): Cycle {
    const frozen = this.#drain().then(() => this.freezer.freeze())
    // Every hold of the cycle awaits it; this keeps a failure from being reported as unhandled.
    frozen.catch(() => undefined)
    return { frozen, over: signal() }
  }

  async #drain(): Promise<void> {
    while (this.#thawedWork > 0) {
      this.#drained ??= signal()
      await this.#drained.promise
    }
  }
}

function signal(): Signal {
  let fire = (): void => undefined
  const promise = new Promise<void>((resolve) => {
    fire = resolve
  })
  return { promise, fire }
}
