/** Why a delta cannot be applied; the caller names the object and the repository. */
export class DeltaError extends Error {}

// A delta is hostile input too: every copy is checked against the base, every write against the
// declared result size, and the result size against the reader's cap before allocating it.
/** Applies a git delta (varint sizes, then copy and insert instructions) to `base`. */
export function applyDelta(base: Uint8Array, delta: Uint8Array, maxBytes: number): Uint8Array {
  let at = 0
  const varint = (): number => {
    let value = 0
    let scale = 1
    for (;;) {
      const byte = delta[at++]
      if (byte === undefined || scale > 2 ** 49) throw new DeltaError('truncated delta header')
      value += (byte & 0x7f) * scale
      scale *= 128
      if ((byte & 0x80) === 0) return value
    }
  }
  if (varint() !== base.byteLength) throw new DeltaError('delta base size mismatch')
  const size = varint()
  if (size > maxBytes) throw new DeltaError(`delta result of ${size} bytes is over the cap`)
  const out = new Uint8Array(size)
  let written = 0
  while (at < delta.byteLength) {
    const command = delta[at++] ?? 0
    if (command === 0) throw new DeltaError('reserved delta instruction 0')
    let offset: number
    let length: number
    let source: Uint8Array
    if ((command & 0x80) !== 0) {
      offset = readPacked(command, 0, 4)
      length = readPacked(command, 4, 3) || 0x10000
      source = base
    } else {
      offset = at
      length = command
      source = delta
      at += length
    }
    if (offset + length > source.byteLength || written + length > size) {
      throw new DeltaError('delta instruction out of bounds')
    }
    // Most instructions are a few bytes; a view per copy would cost more than the copy.
    if (length < 32) for (let i = 0; i < length; i++) out[written++] = source[offset + i] ?? 0
    else {
      out.set(source.subarray(offset, offset + length), written)
      written += length
    }
  }
  if (written !== size) throw new DeltaError('delta result shorter than declared')
  return out

  // Copy offsets and lengths are little-endian, with a flag bit per byte present.
  function readPacked(command: number, firstBit: number, count: number): number {
    let value = 0
    for (let i = 0; i < count; i++) {
      if ((command & (1 << (firstBit + i))) === 0) continue
      const byte = delta[at++]
      if (byte === undefined) throw new DeltaError('truncated delta instruction')
      value += byte * 2 ** (8 * i)
    }
    return value
  }
}
