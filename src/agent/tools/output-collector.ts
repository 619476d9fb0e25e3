/**
 * Collects a command's output as it streams (stdout and stderr interleaved, in arrival order),
 * keeping the first and the last `keepBytes` bytes and counting what lies between: a command
 * that prints a gigabyte costs nothing, and the end of a build log (where errors are) survives.
 */
export class OutputCollector {
  private readonly head: Uint8Array[] = []
  private headBytes = 0
  private tail: Uint8Array[] = []
  private tailBytes = 0
  /** Bytes seen so far. */
  total = 0

  constructor(private readonly keepBytes: number) {}

  readonly push = (chunk: Uint8Array): void => {
    this.total += chunk.length
    const room = this.keepBytes - this.headBytes
    if (room > 0) {
      const part = chunk.subarray(0, room)
      this.head.push(part)
      this.headBytes += part.length
      chunk = chunk.subarray(part.length)
    }
    if (chunk.length === 0) return
    this.tail.push(chunk)
    this.tailBytes += chunk.length
    // Drop whole chunks from the front while the rest still fills the tail.
    while (this.tail.length > 1 && this.tailBytes - (this.tail[0]?.length ?? 0) >= this.keepBytes) {
      this.tailBytes -= this.tail.shift()?.length ?? 0
    }
  }

  /** The kept output, and how many bytes were dropped between its two parts. */
  text(): { head: string; tail: string; droppedBytes: number } {
    const tail = Buffer.concat(this.tail)
    return {
      head: Buffer.concat(this.head).toString('utf8'),
      tail: tail.subarray(Math.max(0, tail.length - this.keepBytes)).toString('utf8'),
      droppedBytes: Math.max(0, this.total - this.headBytes - this.keepBytes),
    }
  }
}
