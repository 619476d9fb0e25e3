import { CorruptObjectError } from './object-read-error.js'

/** A parsed version 2 pack index, kept as its bytes: lookups binary-search them in place. */
export interface PackIndex {
  bytes: Buffer
  count: number
}

const magic = 0xff744f63
const fanoutAt = 8
const namesAt = fanoutAt + 256 * 4

// Only the layout is checked up front (header, fanout, table sizes); entries are checked on use.
export function parsePackIndex(bytes: Buffer): PackIndex {
  if (bytes.byteLength < namesAt + 40 || bytes.readUInt32BE(0) !== magic) {
    throw new CorruptObjectError('pack index is not a version 2 index')
  }
  if (bytes.readUInt32BE(4) !== 2) throw new CorruptObjectError('pack index version is not 2')
  let previous = 0
  for (let i = 0; i < 256; i++) {
    const total = bytes.readUInt32BE(fanoutAt + i * 4)
    if (total < previous) throw new CorruptObjectError('pack index fanout is not sorted')
    previous = total
  }
  if (bytes.byteLength < namesAt + previous * 28 + 40) {
    throw new CorruptObjectError('pack index is shorter than its object count')
  }
  return { bytes, count: previous }
}

/** Where `oid` starts in the pack, or undefined when this pack does not hold it. */
export function findPackOffset(index: PackIndex, oid: string): number | undefined {
  const { bytes } = index
  const target = Buffer.from(oid, 'hex')
  const first = target[0] ?? 0
  let low = first === 0 ? 0 : bytes.readUInt32BE(fanoutAt + (first - 1) * 4)
  let high = bytes.readUInt32BE(fanoutAt + first * 4)
  while (low < high) {
    const middle = (low + high) >>> 1
    const at = namesAt + middle * 20
    const order = bytes.compare(target, 0, 20, at, at + 20)
    if (order === 0) return offsetAt(index, middle)
    if (order < 0) low = middle + 1
    else high = middle
  }
  return undefined
}

// Offsets of 2 GiB and more live in a table of 64-bit values after the 32-bit ones.
function offsetAt({ bytes, count }: PackIndex, position: number): number {
  const offsets = namesAt + count * 24
  const small = bytes.readUInt32BE(offsets + position * 4)
  if ((small & 0x80000000) === 0) return small
  const wide = offsets + count * 4 + (small & 0x7fffffff) * 8
  if (wide + 8 > bytes.byteLength - 40)
    throw new CorruptObjectError('pack index offset out of range')
  return Number(bytes.readBigUInt64BE(wide))
}
