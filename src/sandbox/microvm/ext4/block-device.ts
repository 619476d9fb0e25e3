import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { refuse } from './format-error.js'

/** A file-system block replaced by the journal: where its newer copy sits in the image. */
export interface JournalCopy {
  /** Block number (in the image) of the copy in the journal. */
  at: number
  /** The copy's first four bytes were the journal magic, zeroed when it was logged. */
  escaped: boolean
}

const JOURNAL_MAGIC = 0xc03b3998
/** Metadata blocks kept in memory (inode tables, directories, extent nodes). */
const CACHE_BLOCKS = 4096

/**
 * Read-only, bounds-checked block access to a drive image: every block number is checked against
 * the file system's size before it is read, a short read is a refusal, and the journal's newer
 * copies (after replay) are read in place of the blocks they replace. Nothing is ever written.
 */
export class BlockDevice {
  #blockSize = 1024
  #blocks = 0
  readonly #cache = new Map<number, Buffer>()
  #journal = new Map<number, JournalCopy>()
  /** The replaced block numbers, sorted, to split data runs around them. */
  #replaced: number[] = []

  private constructor(
    private readonly file: FileHandle,
    /** Bytes in the image file. */
    readonly size: number,
  ) {}

  /** Opens a regular file read-only, never through a symlink. */
  static async open(file: string): Promise<BlockDevice> {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      const info = await handle.stat()
      if (!info.isFile()) refuse('not a regular file')
      return new BlockDevice(handle, info.size)
    } catch (error) {
      await handle.close()
      throw error
    }
  }

  close(): Promise<void> {
    return this.file.close()
  }

  get blockSize(): number {
    return this.#blockSize
  }

  /** Fixes the geometry once the superblock is read: blocks past `blocks` are refused. */
  setGeometry(blockSize: number, blocks: number): void {
    if (blocks * blockSize > this.size)
      refuse(`the file system claims ${blocks * blockSize} bytes, the drive holds ${this.size}`)
    this.#blockSize = blockSize
    this.#blocks = blocks
    this.#cache.clear()
  }

  /** Reads the newer copies of blocks the journal replay found. */
  setJournal(copies: Map<number, JournalCopy>): void {
    this.#journal = copies
    this.#replaced = [...copies.keys()].sort((a, b) => a - b)
    this.#cache.clear()
  }

  /** `length` bytes at `offset`, exactly (the superblock, before the geometry is known). */
  async bytes(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length)
    await this.#readExact(out, 0, length, offset)
    return out
  }

  /** One block, the journal's copy if it has one; cached, so never modify it. */
  async block(n: number): Promise<Buffer> {
    this.#check(n, 1)
    const cached = this.#cache.get(n)
    if (cached !== undefined) {
      // Most recently used last: the oldest entry is the first the cache drops.
      this.#cache.delete(n)
      this.#cache.set(n, cached)
      return cached
    }
    const copy = this.#journal.get(n)
    const data = await this.rawBlock(copy?.at ?? n)
    if (copy?.escaped === true) data.writeUInt32BE(JOURNAL_MAGIC, 0)
    this.#cache.set(n, data)
    if (this.#cache.size > CACHE_BLOCKS)
      this.#cache.delete(this.#cache.keys().next().value as number)
    return data
  }

  /** One block as it is on the drive, ignoring the journal (the journal's own blocks). */
  async rawBlock(n: number): Promise<Buffer> {
    this.#check(n, 1)
    const out = Buffer.alloc(this.#blockSize)
    await this.#readExact(out, 0, this.#blockSize, n * this.#blockSize)
    return out
  }

  /**
   * `count` blocks from `first` into `into` at `at`, at most `limit` bytes (a file's last block
   * is partly used). File data: not cached.
   */
  async readRun(
    first: number,
    count: number,
    into: Buffer,
    at: number,
    limit: number,
  ): Promise<void> {
    this.#check(first, count)
    let block = first
    let offset = at
    let left = Math.min(limit, count * this.#blockSize)
    while (left > 0) {
      const next = this.#nextReplaced(block)
      const plain =
        next === undefined || next >= first + count ? first + count - block : next - block
      if (plain > 0) {
        const bytes = Math.min(left, plain * this.#blockSize)
        await this.#readExact(into, offset, bytes, block * this.#blockSize)
        block += plain
        offset += bytes
        left -= bytes
      } else {
        const bytes = Math.min(left, this.#blockSize)
        ;(await this.block(block)).copy(into, offset, 0, bytes)
        block += 1
        offset += bytes
        left -= bytes
      }
    }
  }

  #check(first: number, count: number): void {
    if (!Number.isSafeInteger(first) || first < 0 || count < 1 || first + count > this.#blocks)
      refuse(
        `block ${first}${count > 1 ? `+${count}` : ''} is outside the drive (${this.#blocks} blocks)`,
      )
  }

  /** The first replaced block at or after `block`. */
  #nextReplaced(block: number): number | undefined {
    const list = this.#replaced
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((list[mid] as number) < block) lo = mid + 1
      else hi = mid
    }
    return list[lo]
  }

  async #readExact(into: Buffer, at: number, length: number, position: number): Promise<void> {
    let done = 0
    while (done < length) {
      const { bytesRead } = await this.file.read(into, at + done, length - done, position + done)
      if (bytesRead === 0)
        refuse(`the drive ends at byte ${position + done}, inside what it describes`)
      done += bytesRead
    }
  }
}
