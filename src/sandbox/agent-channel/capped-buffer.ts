/** Keeps the first `limit` bytes of a stream and counts the rest, so a 1 GB flood costs nothing. */
export class CappedBuffer {
  private readonly chunks: Buffer[] = []
  private kept = 0
  dropped = 0

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.kept
    if (room >= chunk.length) {
      this.chunks.push(chunk)
      this.kept += chunk.length
      return
    }
    if (room > 0) {
      this.chunks.push(chunk.subarray(0, room))
      this.kept += room
    }
    this.dropped += chunk.length - Math.max(room, 0)
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.kept)
  }
}
