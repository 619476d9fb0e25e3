/** Unacknowledged stdin the host lets an agent hold: a few frames, whatever the input's size. */
export const STDIN_WINDOW_BYTES = 1024 * 1024

/**
 * Flow control for an exec's streamed stdin, with an agent that acknowledges what the command's
 * pipe took (the `stdin-acks` feature): the sender waits while more than the window is
 * unacknowledged, so a command that reads slowly (or never) holds the input back at its source.
 */
export class StdinWindow {
  #sent = 0
  #acked = 0
  #stopped = false
  #wake: (() => void) | undefined

  constructor(private readonly limit = STDIN_WINDOW_BYTES) {}

  sent(bytes: number): void {
    this.#sent += bytes
  }

  /** Records an acknowledgement; false when it claims more than was sent (a violation). */
  ack(bytes: number): boolean {
    if (this.#acked + bytes > this.#sent) return false
    this.#acked += bytes
    this.#wake?.()
    return true
  }

  /** The command ended or the channel closed: nobody waits for acknowledgements any more. */
  stop(): void {
    this.#stopped = true
    this.#wake?.()
  }

  /** Resolves once the sender may send again. */
  async room(): Promise<void> {
    while (!this.#stopped && this.#sent - this.#acked > this.limit) {
      await new Promise<void>((resolve) => (this.#wake = resolve))
      this.#wake = undefined
    }
  }
}
