import { createHash } from 'node:crypto'
import { closeSync, constants, fstatSync, openSync, read, readSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { errnoOf } from '../shared/errors.js'
import { BoundedCache } from './object-read-cache.js'
import {
  CorruptObjectError,
  OversizedObjectError,
  missingObject,
  toReadError,
} from './object-read-error.js'
import { inflateLimited } from './object-read-inflate.js'
import {
  listPacks,
  readFromPacks,
  type ObjectType,
  type PackContext,
  type PackFile,
  type RawObject,
} from './object-read-pack.js'

export type { ObjectType, RawObject } from './object-read-pack.js'

/**
 * Reads objects of one repository straight from disk: loose objects with zlib, packed ones by
 * seeking to their offset in the pack (found through the .idx), deltas applied here. Packs and
 * objects are immutable, so a store may be kept for a whole session; its caches are bounded.
 */
export interface ObjectStore extends PackContext {
  gitdir: string
  packs: Promise<PackFile[]> | undefined
  /**
   * Parsed objects by `<kind>:<id>` (a tree's children, a commit's fields), bounded by entries;
   * each reader owns its key prefix and the shape stored under it.
   */
  parsed: BoundedCache<unknown>
}

export interface ObjectStoreOptions {
  /** Objects larger than this are refused before they are inflated; default 1 GiB. */
  maxObjectBytes?: number
}

const defaultMaxObjectBytes = 1024 * 1024 * 1024
const emptyTree = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
const objectId = /^[0-9a-f]{40}$/
const syncReadBytes = 64 * 1024
const readAsync = promisify(read)
const stores = new WeakMap<object, Map<string, ObjectStore>>()

// The caller's cache object owns the store, so a session keeps it and a one-off call drops it.
export function objectStoreFor(gitdir: string, cache: object): ObjectStore {
  let byDir = stores.get(cache)
  if (byDir === undefined) stores.set(cache, (byDir = new Map<string, ObjectStore>()))
  let store = byDir.get(gitdir)
  if (store === undefined) byDir.set(gitdir, (store = createObjectStore(gitdir)))
  return store
}

export function createObjectStore(gitdir: string, options: ObjectStoreOptions = {}): ObjectStore {
  const store: ObjectStore = {
    gitdir,
    maxObjectBytes: options.maxObjectBytes ?? defaultMaxObjectBytes,
    packs: undefined,
    packed: new BoundedCache<RawObject>(32 * 1024 * 1024, (object) => object.content.byteLength),
    parsed: new BoundedCache<unknown>(200_000, (value) =>
      Array.isArray(value) ? value.length + 1 : 1,
    ),
    readBase: (oid, depth) => locate(store, oid, depth),
  }
  return store
}

/** Reads and verifies one object; failures are SafeCoderErrors naming the object and repository. */
export async function readObject(store: ObjectStore, oid: string): Promise<RawObject> {
  try {
    if (!objectId.test(oid)) throw new CorruptObjectError('not a full object id')
    const object = await locate(store, oid, 0)
    const header = `${object.type} ${object.content.byteLength}\0`
    const actual = createHash('sha1').update(header).update(object.content).digest('hex')
    if (actual !== oid) throw new CorruptObjectError(`content hashes to ${actual}`)
    return object
  } catch (error) {
    throw toReadError(store.gitdir, oid, error)
  }
}

// Indexes already in memory answer before a loose lookup; a miss re-lists packs once.
async function locate(store: ObjectStore, oid: string, depth: number): Promise<RawObject> {
  if (oid === emptyTree) return { type: 'tree', content: new Uint8Array(0) }
  const packed = await readFromPacks(store, await listedPacks(store), oid, depth)
  if (packed !== undefined) return packed
  const loose = await readLoose(store, oid)
  if (loose !== undefined) return loose
  store.packs = undefined
  const fresh = await readFromPacks(store, await listedPacks(store), oid, depth)
  if (fresh === undefined) throw missingObject(store.gitdir, oid)
  return fresh
}

function listedPacks(store: ObjectStore): Promise<PackFile[]> {
  if (store.packs === undefined) {
    const listing = listPacks(store.gitdir)
    store.packs = listing
    listing.catch(() => {
      if (store.packs === listing) store.packs = undefined
    })
  }
  return store.packs
}

/** A loose object: "<type> <size>\0<content>", zlib-compressed, at objects/xx/yyyy…. */
async function readLoose(store: ObjectStore, oid: string): Promise<RawObject | undefined> {
  const file = path.join(store.gitdir, 'objects', oid.slice(0, 2), oid.slice(2))
  let fd: number
  try {
    // Non-blocking, so a FIFO planted in place of an object cannot hang the open.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
  let compressed: Buffer
  try {
    const info = fstatSync(fd)
    if (!info.isFile()) throw new CorruptObjectError('loose object is not a regular file')
    if (info.size > store.maxObjectBytes + (store.maxObjectBytes >>> 8) + 1024) {
      throw new OversizedObjectError(`${info.size} compressed bytes, cap ${store.maxObjectBytes}`)
    }
    compressed = await readAll(fd, info.size)
  } finally {
    closeSync(fd)
  }
  const object = unwrap(await inflateLimited(compressed, store.maxObjectBytes + 32))
  if (object.content.byteLength > store.maxObjectBytes) {
    throw new OversizedObjectError(
      `${object.content.byteLength} bytes, cap ${store.maxObjectBytes}`,
    )
  }
  return object
}

// Small files come from the page cache faster in place than through the thread pool.
async function readAll(fd: number, size: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(size)
  const bytesRead =
    size <= syncReadBytes
      ? readSync(fd, buffer, 0, size, 0)
      : (await readAsync(fd, buffer, 0, size, 0)).bytesRead
  return buffer.subarray(0, bytesRead)
}

function unwrap(wrapped: Buffer): RawObject {
  const nul = wrapped.indexOf(0)
  const match = /^(commit|tree|blob|tag) (0|[1-9]\d{0,15})$/.exec(
    wrapped.toString('latin1', 0, nul === -1 ? Math.min(wrapped.byteLength, 32) : nul),
  )
  if (nul === -1 || match === null) throw new CorruptObjectError('loose object header is invalid')
  const content = wrapped.subarray(nul + 1)
  if (Number(match[2]) !== content.byteLength) {
    throw new CorruptObjectError(
      `loose object is ${content.byteLength} bytes, header says ${match[2]}`,
    )
  }
  return { type: match[1] as ObjectType, content }
}
