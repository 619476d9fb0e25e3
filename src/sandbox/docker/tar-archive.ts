/** One member of a small in-memory archive. */
export type TarEntry =
  | { type: 'dir'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; content: string | Uint8Array }

const BLOCK = 512

/**
 * A ustar archive of `entries`, in the given order, owned by 0:0 with mtime 0: the same entries
 * always give the same bytes, so the archive's sha256 is the engine's layer digest (diff id) of
 * an image imported from it, and can be checked against any image that claims to be that layer.
 */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const entry of entries) {
    const body = entry.type === 'file' ? Buffer.from(entry.content) : Buffer.alloc(0)
    const name = entry.type === 'dir' ? `${entry.path.replace(/\/+$/, '')}/` : entry.path
    parts.push(header(name, entry.type, entry.mode, body.length))
    parts.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK))
  }
  parts.push(Buffer.alloc(2 * BLOCK))
  return Buffer.concat(parts)
}

function header(name: string, type: TarEntry['type'], mode: number, size: number): Buffer {
  if (Buffer.byteLength(name) > 100 || name.startsWith('/') || name.split('/').includes('..')) {
    throw new RangeError(`tar member name ${JSON.stringify(name)} is not a short relative path`)
  }
  const block = Buffer.alloc(BLOCK)
  block.write(name, 0, 100, 'utf8')
  octal(block, 100, 8, mode & 0o7777)
  octal(block, 108, 8, 0)
  octal(block, 116, 8, 0)
  octal(block, 124, 12, size)
  octal(block, 136, 12, 0)
  block.fill(' ', 148, 156)
  block.write(type === 'dir' ? '5' : '0', 156, 1, 'ascii')
  block.write('ustar\u000000', 257, 8, 'binary')
  let sum = 0
  for (const byte of block) sum += byte
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'binary')
  return block
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii')
}
