import { createHash } from 'node:crypto'

/** Where one object sits in a pack, and the CRC-32 of its packed bytes. */
export interface PackedObject {
  oid: string
  offset: number
  crc: number
}

// Readers find objects in a pack only through its .idx; version 2 is what git and isomorphic-git read.
/** Encodes a version 2 pack index for `objects` of the pack whose trailer is `packSha`. */
export function encodePackIndex(objects: readonly PackedObject[], packSha: Buffer): Buffer {
  const sorted = [...objects].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0))
  const count = sorted.length
  const large = sorted.filter((object) => object.offset >= 0x80000000)
  const size = 8 + 256 * 4 + count * (20 + 4 + 4) + large.length * 8 + 40
  const out = Buffer.alloc(size)
  out.writeUInt32BE(0xff744f63, 0)
  out.writeUInt32BE(2, 4)
  const fanout = new Uint32Array(256)
  for (const object of sorted) {
    const first = Number.parseInt(object.oid.slice(0, 2), 16)
    fanout[first] = (fanout[first] ?? 0) + 1
  }
  let total = 0
  for (let i = 0; i < 256; i++) {
    total += fanout[i] ?? 0
    out.writeUInt32BE(total, 8 + i * 4)
  }
  const names = 8 + 256 * 4
  const crcs = names + count * 20
  const offsets = crcs + count * 4
  const wide = offsets + count * 4
  let nextLarge = 0
  sorted.forEach((object, i) => {
    out.write(object.oid, names + i * 20, 'hex')
    out.writeUInt32BE(object.crc >>> 0, crcs + i * 4)
    if (object.offset < 0x80000000) {
      out.writeUInt32BE(object.offset, offsets + i * 4)
    } else {
      out.writeUInt32BE((0x80000000 | nextLarge) >>> 0, offsets + i * 4)
      out.writeBigUInt64BE(BigInt(object.offset), wide + nextLarge * 8)
      nextLarge++
    }
  })
  const trailer = wide + large.length * 8
  packSha.copy(out, trailer)
  createHash('sha1')
    .update(out.subarray(0, trailer + 20))
    .digest()
    .copy(out, trailer + 20)
  return out
}
