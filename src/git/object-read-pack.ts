import { close, constants, openSync, read, readSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { errnoOf } from '../shared/errors.js'
import type { BoundedCache } from './object-read-cache.js'
import { applyDelta } from './object-read-delta.js'
import { CorruptObjectError, OversizedObjectError } from './object-read-error.js'
import { inflateExactly } from './object-read-inflate.js'
import { findPackOffset, parsePackIndex, type PackIndex } from './object-read-pack-index.js'

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag'

/** An object's type and content (without git's "<type> <size>\0" header). */
export interface RawObject {
  type: ObjectType
  content: Uint8Array
}

/** One pack and its index; the file is opened while reads are in flight and closed when idle. */
export interface PackFile {
  file: string
  size: number
  index: PackIndex
  fd: number | undefined
  users: number
}

/** What reading a packed object needs from the store around it. */
export interface PackContext {
  maxObjectBytes: number
  /** Packed objects by `<pack>:<offset>`: delta bases are often shared by several objects. */
  packed: BoundedCache<RawObject>
  /** Reads a base named by id (a ref delta), wherever it is stored. */
  readBase(oid: string, depth: number): Promise<RawObject>
}

const types: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' }
const maxIndexBytes = 1024 * 1024 * 1024
/** Deeper than git ever writes (its aggressive depth is 250); also stops cycles of ref deltas. */
export const maxDeltaDepth = 1000
// Most objects fit in the first read: header and all of the compressed bytes.
const firstReadBytes = 4000
const syncReadBytes = 64 * 1024
const readAsync = promisify(read)

// Packs never change once named by their checksum, so a listing and its indexes can be kept.
export async function listPacks(gitdir: string): Promise<PackFile[]> {
  const dir = path.join(gitdir, 'objects', 'pack')
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return []
    throw error
  }
  const packs = names.filter((name) => /^pack-[0-9a-f]{40,64}\.idx$/.test(name))
  const loaded = await Promise.all(packs.map((name) => loadPack(path.join(dir, name))))
  return loaded.flatMap((pack) => (pack === undefined ? [] : [pack]))
}

async function loadPack(idx: string): Promise<PackFile | undefined> {
  const file = idx.replace(/\.idx$/, '.pack')
  const [info, packInfo] = await Promise.all([stat(idx), stat(file).catch(() => undefined)])
  if (packInfo === undefined) return undefined
  if (!info.isFile() || !packInfo.isFile()) throw new CorruptObjectError(`${idx} is not a file`)
  if (info.size > maxIndexBytes) throw new CorruptObjectError(`pack index ${idx} is too large`)
  const index = parsePackIndex(await readFile(idx))
  return { file, size: packInfo.size, index, fd: undefined, users: 0 }
}

/** Reads `oid` from the first pack that holds it, or undefined when none does. */
export async function readFromPacks(
  context: PackContext,
  packs: readonly PackFile[],
  oid: string,
  depth: number,
): Promise<RawObject | undefined> {
  for (const pack of packs) {
    const offset = findPackOffset(pack.index, oid)
    if (offset !== undefined) return readAt(context, pack, offset, depth)
  }
  return undefined
}

async function readAt(
  context: PackContext,
  pack: PackFile,
  offset: number,
  depth: number,
): Promise<RawObject> {
  const key = `${pack.file}:${offset}`
  const cached = context.packed.get(key)
  if (cached !== undefined) return cached
  if (depth > maxDeltaDepth) throw new CorruptObjectError('delta chain too deep')
  if (offset < 12 || offset >= pack.size - 20) throw new CorruptObjectError('offset out of pack')
  const end = pack.size - 20
  let chunk = await readRange(pack, offset, Math.min(firstReadBytes, end - offset))
  const header = parseHeader(chunk, offset)
  if (header.size > context.maxObjectBytes) {
    throw new OversizedObjectError(`${header.size} bytes declared, cap ${context.maxObjectBytes}`)
  }
  // zlib adds at most a few bytes per 16 KiB block; bytes after the stream are ignored.
  const bound = Math.min(header.start + header.size + (header.size >>> 8) + 64, end - offset)
  if (bound > chunk.byteLength) chunk = await readRange(pack, offset, bound)
  const data = await inflateExactly(chunk.subarray(header.start), header.size)
  let object: RawObject
  if (header.type !== undefined) {
    object = { type: header.type, content: data }
  } else {
    const base =
      header.baseOffset !== undefined
        ? await readAt(context, pack, header.baseOffset, depth + 1)
        : await context.readBase(header.baseOid ?? '', depth + 1)
    object = { type: base.type, content: applyDelta(base.content, data, context.maxObjectBytes) }
  }
  context.packed.set(key, object)
  return object
}

interface PackHeader {
  type?: ObjectType
  size: number
  start: number
  baseOffset?: number
  baseOid?: string
}

// Type in bits 4–6, size in 4 + 7·n bits; deltas then name their base by distance or by id.
function parseHeader(bytes: Uint8Array, offset: number): PackHeader {
  let at = 0
  const next = (): number => {
    const byte = bytes[at++]
    if (byte === undefined) throw new CorruptObjectError('truncated pack entry')
    return byte
  }
  let byte = next()
  const code = (byte >> 4) & 7
  let size = byte & 0x0f
  for (let scale = 16; byte & 0x80; scale *= 128) {
    if (scale > 2 ** 49) throw new CorruptObjectError('pack entry size too long')
    byte = next()
    size += (byte & 0x7f) * scale
  }
  const type = types[code]
  if (type !== undefined) return { type, size, start: at }
  if (code === 7) {
    if (at + 20 > bytes.byteLength) throw new CorruptObjectError('truncated ref delta')
    const baseOid = Buffer.from(bytes.subarray(at, at + 20)).toString('hex')
    return { size, start: at + 20, baseOid }
  }
  if (code !== 6) throw new CorruptObjectError(`unknown pack entry type ${code}`)
  byte = next()
  let distance = byte & 0x7f
  while (byte & 0x80) {
    if (distance > 2 ** 45) throw new CorruptObjectError('delta base offset too long')
    byte = next()
    distance = (distance + 1) * 128 + (byte & 0x7f)
  }
  if (distance <= 0 || distance > offset) throw new CorruptObjectError('delta base out of pack')
  return { size, start: at, baseOffset: offset - distance }
}

// Reads share one descriptor; it closes a tick after the last read, so a walk keeps it open.
// Ranges of a few KiB come from the page cache faster in place than through the thread pool
// (git maps the pack for the same reason); longer ones are read without blocking.
async function readRange(pack: PackFile, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length)
  pack.users++
  try {
    pack.fd ??= openSync(pack.file, constants.O_RDONLY | constants.O_NONBLOCK)
    const bytesRead =
      length <= syncReadBytes
        ? readSync(pack.fd, buffer, 0, length, offset)
        : (await readAsync(pack.fd, buffer, 0, length, offset)).bytesRead
    return buffer.subarray(0, bytesRead)
  } finally {
    pack.users--
    if (pack.users === 0) setImmediate(closeIdle, pack)
  }
}

function closeIdle(pack: PackFile): void {
  if (pack.users !== 0 || pack.fd === undefined) return
  const fd = pack.fd
  pack.fd = undefined
  close(fd, () => undefined)
}
