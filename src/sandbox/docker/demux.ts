/**
 * Splits the Engine API's multiplexed exec stream (8-byte header: stream id, 3 zero bytes,
 * big-endian length) into stdout and stderr chunks. Frames may arrive split across reads.
 */
export class StreamDemuxer {
  private pending: Buffer = Buffer.alloc(0)

  constructor(private readonly deliver: (stream: 'stdout' | 'stderr', chunk: Buffer) => void) {}

  push(data: Buffer): void {
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data])
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32BE(4)
      if (this.pending.length < 8 + length) return
      const kind = this.pending[0]
      const payload = this.pending.subarray(8, 8 + length)
      this.pending = this.pending.subarray(8 + length)
      // 0 = stdin (never sent back), 1 = stdout, 2 = stderr; anything else is treated as stdout.
      if (length > 0) this.deliver(kind === 2 ? 'stderr' : 'stdout', payload)
    }
  }

  /** Bytes of a frame that never completed (the stream was cut). */
  get leftover(): number {
    return this.pending.length
  }
}
