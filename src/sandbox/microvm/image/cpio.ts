import { gzipSync } from 'node:zlib'

/**
 * A writer for the "newc" cpio format (SVR4 without CRC, magic 070701), the only format the
 * Linux kernel unpacks as an initramfs. Entries are written in the order given; the builder adds
 * missing parent directories first, because the kernel creates entries as it reads them.
 * Everything defaults to uid 0, gid 0 and mtime 0, so the same input gives the same bytes.
 */

export type CpioEntry =
  | (CpioCommon & { kind: 'file'; data: Uint8Array })
  | (CpioCommon & { kind: 'dir' })
  | (CpioCommon & { kind: 'symlink'; target: string })
  | (CpioCommon & { kind: 'char' | 'block'; major: number; minor: number })

interface CpioCommon {
  /** Path inside the archive, without a leading `/` (e.g. `bin/busybox`). */
  path: string
  /** Permission bits (the file type is added from `kind`). */
  mode?: number
  uid?: number
  gid?: number
  /** Seconds since the epoch. */
  mtime?: number
}

const S_IFREG = 0o100000
const S_IFDIR = 0o040000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000
const S_IFBLK = 0o060000
const HEADER_SIZE = 110
const TRAILER = 'TRAILER!!!'

const defaultMode: Record<CpioEntry['kind'], number> = {
  file: 0o644,
  dir: 0o755,
  symlink: 0o777,
  char: 0o600,
  block: 0o600,
}

const typeBits: Record<CpioEntry['kind'], number> = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  char: S_IFCHR,
  block: S_IFBLK,
}

/** Normalises an archive path: no leading `/` or `./`, no empty or `.`/`..` segments. */
export function cpioPath(raw: string): string {
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.')
  if (parts.length === 0) throw new Error(`cpio: empty path "${raw}"`)
  if (parts.includes('..')) throw new Error(`cpio: path "${raw}" contains ".."`)
  return parts.join('/')
}

/** Collects entries, adding parent directories, and serialises them. */
export class CpioBuilder {
  readonly #entries: CpioEntry[] = []
  readonly #seen = new Map<string, CpioEntry['kind']>()

  /** Adds an entry (and, first, any parent directory not added yet). Later duplicates throw. */
  add(entry: CpioEntry): this {
    const name = cpioPath(entry.path)
    const parts = name.split('/')
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/')
      const kind = this.#seen.get(parent)
      if (kind === undefined) this.#push({ kind: 'dir', path: parent })
      else if (kind !== 'dir') throw new Error(`cpio: ${parent} is not a directory`)
    }
    if (this.#seen.has(name)) {
      // A directory may be named explicitly after it was implied by a child; keep the first.
      if (entry.kind === 'dir' && this.#seen.get(name) === 'dir') return this
      throw new Error(`cpio: duplicate entry ${name}`)
    }
    this.#push({ ...entry, path: name })
    return this
  }

  file(path: string, data: Uint8Array | string, mode = 0o644): this {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    return this.add({ kind: 'file', path, data: bytes, mode })
  }

  dir(path: string, mode = 0o755): this {
    return this.add({ kind: 'dir', path, mode })
  }

  symlink(path: string, target: string): this {
    return this.add({ kind: 'symlink', path, target })
  }

  has(path: string): boolean {
    return this.#seen.has(cpioPath(path))
  }

  get entries(): readonly CpioEntry[] {
    return this.#entries
  }

  /** The archive bytes, optionally gzip-compressed (the kernel needs CONFIG_RD_GZIP for that). */
  build(options: { gzip?: boolean } = {}): Buffer {
    const raw = writeCpio(this.#entries)
    return options.gzip === true ? gzipSync(raw, { level: 6 }) : raw
  }

  #push(entry: CpioEntry): void {
    this.#entries.push(entry)
    this.#seen.set(entry.path, entry.kind)
  }
}

/** Serialises entries as given (no parent directories are added) plus the trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = []
  let offset = 0
  const push = (chunk: Buffer): void => {
    chunks.push(chunk)
    offset += chunk.length
  }
  const pad = (): void => {
    const rest = offset % 4
    if (rest !== 0) push(Buffer.alloc(4 - rest))
  }
  let ino = 1
  for (const entry of entries) {
    const data =
      entry.kind === 'file'
        ? entry.data
        : entry.kind === 'symlink'
          ? Buffer.from(entry.target)
          : new Uint8Array(0)
    const device = entry.kind === 'char' || entry.kind === 'block'
    writeRecord(push, pad, {
      ino: ino++,
      mode: typeBits[entry.kind] | ((entry.mode ?? defaultMode[entry.kind]) & 0o7777),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      nlink: entry.kind === 'dir' ? 2 : 1,
      mtime: entry.mtime ?? 0,
      rdevMajor: device ? entry.major : 0,
      rdevMinor: device ? entry.minor : 0,
      name: cpioPath(entry.path),
      data,
    })
  }
  writeRecord(push, pad, {
    ino: 0,
    mode: 0,
    uid: 0,
    gid: 0,
    nlink: 1,
    mtime: 0,
    rdevMajor: 0,
    rdevMinor: 0,
    name: TRAILER,
    data: new Uint8Array(0),
  })
  return Buffer.concat(chunks)
}

interface CpioRecord {
  ino: number
  mode: number
  uid: number
  gid: number
  nlink: number
  mtime: number
  rdevMajor: number
  rdevMinor: number
  name: string
  data: Uint8Array
}

function writeRecord(push: (chunk: Buffer) => void, pad: () => void, record: CpioRecord): void {
  const name = Buffer.from(`${record.name}\0`)
  const hex = (value: number): string => {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
      throw new Error(`cpio: field value ${value} out of range for ${record.name}`)
    return value.toString(16).padStart(8, '0')
  }
  const header =
    '070701' +
    hex(record.ino) +
    hex(record.mode) +
    hex(record.uid) +
    hex(record.gid) +
    hex(record.nlink) +
    hex(record.mtime) +
    hex(record.data.length) +
    hex(0) + // devmajor
    hex(0) + // devminor
    hex(record.rdevMajor) +
    hex(record.rdevMinor) +
    hex(name.length) +
    hex(0) // check
  if (header.length !== HEADER_SIZE) throw new Error('cpio: bad header length')
  push(Buffer.from(header, 'ascii'))
  push(name)
  pad()
  if (record.data.length > 0) {
    push(Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength))
    pad()
  }
}
