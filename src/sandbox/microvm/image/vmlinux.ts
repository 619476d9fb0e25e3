import { execa } from 'execa'
import { SafeCoderError } from '../../../shared/errors.js'

/**
 * Turns a compressed x86 kernel (`vmlinuz`, a bzImage) into the uncompressed ELF `vmlinux` that
 * Firecracker needs and QEMU boots through its PVH entry point. The bzImage is a real-mode setup
 * followed by a compressed payload; the boot protocol header (≥ 2.08) says where the payload is,
 * and older or odd files are scanned for the compressors' magic numbers instead. The host's
 * `xz`/`zstd`/`gzip` decompress it.
 */

export type KernelCompression = 'xz' | 'zstd' | 'gzip'

export interface PayloadCandidate {
  format: KernelCompression
  offset: number
  /** Bytes from offset (the whole rest of the file when the length is unknown). */
  length: number
  /** Found through the boot protocol header (exact) rather than a magic-number scan. */
  exact: boolean
}

const MAGICS: { format: KernelCompression; bytes: number[] }[] = [
  { format: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { format: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { format: 'gzip', bytes: [0x1f, 0x8b, 0x08] },
]

const EM_X86_64 = 0x3e
const PT_NOTE = 4
/** XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point QEMU needs to boot an ELF kernel. */
const XEN_ELFNOTE_PHYS32_ENTRY = 18

function startsWith(bytes: Uint8Array, offset: number, magic: number[]): boolean {
  if (offset + magic.length > bytes.length) return false
  return magic.every((byte, i) => bytes[offset + i] === byte)
}

function formatAt(bytes: Uint8Array, offset: number): KernelCompression | undefined {
  return MAGICS.find((m) => startsWith(bytes, offset, m.bytes))?.format
}

/** Where the compressed kernel may be, most trustworthy first. */
export function findKernelPayloads(bzImage: Uint8Array): PayloadCandidate[] {
  const found: PayloadCandidate[] = []
  const view = new DataView(bzImage.buffer, bzImage.byteOffset, bzImage.byteLength)
  const hasHeader =
    bzImage.length > 0x250 &&
    new TextDecoder().decode(bzImage.subarray(0x202, 0x206)) === 'HdrS' &&
    view.getUint16(0x206, true) >= 0x208
  if (hasHeader) {
    const setupSects = bzImage[0x1f1] === 0 ? 4 : (bzImage[0x1f1] ?? 4)
    const start = (setupSects + 1) * 512 + view.getUint32(0x248, true)
    const length = view.getUint32(0x24c, true)
    const format = formatAt(bzImage, start)
    if (format !== undefined && start + length <= bzImage.length)
      found.push({ format, offset: start, length, exact: true })
  }
  // Scan: every magic occurrence, in file order (the payload is usually the first real one).
  for (let offset = 0; offset < bzImage.length - 6; offset++) {
    const format = formatAt(bzImage, offset)
    if (format === undefined) continue
    if (found.some((c) => c.offset === offset)) continue
    found.push({ format, offset, length: bzImage.length - offset, exact: false })
  }
  return found
}

export interface ElfCheck {
  ok: boolean
  reason?: string
  /** Has the PVH entry note QEMU needs to boot it directly. */
  pvh: boolean
}

/**
 * Checks that bytes are a whole x86-64 ELF executable: the magic, class, machine, and that the
 * program and section header tables (at the end of the file for vmlinux) lie inside it, which
 * catches a truncated decompression.
 */
export function checkVmlinux(bytes: Uint8Array): ElfCheck {
  if (bytes.length < 64 || !startsWith(bytes, 0, [0x7f, 0x45, 0x4c, 0x46]))
    return { ok: false, reason: 'no ELF magic', pvh: false }
  if (bytes[4] !== 2 || bytes[5] !== 1)
    return { ok: false, reason: 'not a 64-bit little-endian ELF', pvh: false }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint16(0x12, true) !== EM_X86_64)
    return { ok: false, reason: 'not an x86-64 ELF', pvh: false }
  const phoff = Number(view.getBigUint64(0x20, true))
  const shoff = Number(view.getBigUint64(0x28, true))
  const phentsize = view.getUint16(0x36, true)
  const phnum = view.getUint16(0x38, true)
  const shentsize = view.getUint16(0x3a, true)
  const shnum = view.getUint16(0x3c, true)
  if (phnum === 0 || phoff + phnum * phentsize > bytes.length)
    return { ok: false, reason: 'program headers outside the file (truncated?)', pvh: false }
  if (shoff + shnum * shentsize > bytes.length)
    return { ok: false, reason: 'section headers outside the file (truncated?)', pvh: false }
  let pvh = false
  for (let i = 0; i < phnum; i++) {
    const header = phoff + i * phentsize
    if (view.getUint32(header, true) !== PT_NOTE) continue
    const offset = Number(view.getBigUint64(header + 8, true))
    const size = Number(view.getBigUint64(header + 32, true))
    if (offset + size > bytes.length) return { ok: false, reason: 'note outside the file', pvh }
    pvh ||= hasNote(view, offset, size, 'Xen', XEN_ELFNOTE_PHYS32_ENTRY)
  }
  return { ok: true, pvh }
}

function hasNote(view: DataView, start: number, size: number, name: string, type: number): boolean {
  const align4 = (n: number): number => (n + 3) & ~3
  let at = start
  while (at + 12 <= start + size) {
    const namesz = view.getUint32(at, true)
    const descsz = view.getUint32(at + 4, true)
    const noteType = view.getUint32(at + 8, true)
    const nameBytes = new Uint8Array(
      view.buffer,
      view.byteOffset + at + 12,
      Math.max(0, namesz - 1),
    )
    if (noteType === type && new TextDecoder().decode(nameBytes) === name) return true
    at += 12 + align4(namesz) + align4(descsz)
  }
  return false
}

const DECOMPRESSORS: Record<KernelCompression, { tool: string; args: string[]; pkg: string }> = {
  // --single-stream: stop after the first stream and ignore the 4-byte size the kernel appends.
  xz: { tool: 'xz', args: ['-dc', '--single-stream'], pkg: 'xz-utils' },
  zstd: { tool: 'zstd', args: ['-dc', '-q'], pkg: 'zstd' },
  gzip: { tool: 'gzip', args: ['-dc', '-q'], pkg: 'gzip' },
}

/**
 * Decompresses one candidate with the host tool. Trailing bytes after the stream make gzip and
 * zstd exit non-zero after writing everything, so the exit status is not trusted; the caller
 * checks the result with `checkVmlinux` instead.
 */
async function decompress(
  candidate: PayloadCandidate,
  bzImage: Uint8Array,
  signal?: AbortSignal,
): Promise<{ bytes: Buffer; missingTool?: string }> {
  const tool = DECOMPRESSORS[candidate.format]
  const payload = bzImage.subarray(candidate.offset, candidate.offset + candidate.length)
  const result = await execa(tool.tool, tool.args, {
    input: payload,
    encoding: 'buffer',
    reject: false,
    maxBuffer: 1024 * 1024 * 1024,
    stripFinalNewline: false,
    cancelSignal: signal,
  })
  if (signal?.aborted === true)
    throw new SafeCoderError('ABORTED', 'Kernel extraction was cancelled.', {
      cause: signal.reason,
    })
  const enoent = (result as { code?: string }).code === 'ENOENT'
  return enoent
    ? { bytes: Buffer.alloc(0), missingTool: tool.tool }
    : { bytes: Buffer.from(result.stdout) }
}

/** The ELF vmlinux inside a bzImage. Throws IMAGE_BUILD_FAILED saying what was tried. */
export async function extractVmlinux(
  bzImage: Uint8Array,
  options: { signal?: AbortSignal; source?: string } = {},
): Promise<{ vmlinux: Buffer; compression: KernelCompression | 'none'; pvh: boolean }> {
  const source = options.source ?? 'the kernel image'
  const plain = checkVmlinux(bzImage)
  // Already uncompressed.
  if (plain.ok) return { vmlinux: Buffer.from(bzImage), compression: 'none', pvh: plain.pvh }
  const candidates = findKernelPayloads(bzImage)
  const tried: string[] = []
  for (const candidate of candidates.slice(0, 16)) {
    const { bytes, missingTool } = await decompress(candidate, bzImage, options.signal)
    if (missingTool !== undefined) {
      const pkg = DECOMPRESSORS[candidate.format].pkg
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `${source} is ${candidate.format}-compressed and ${missingTool} is not installed.`,
        { hint: `Install it: apt-get install ${pkg}`, data: { tool: missingTool, package: pkg } },
      )
    }
    const check = checkVmlinux(bytes)
    if (check.ok) return { vmlinux: bytes, compression: candidate.format, pvh: check.pvh }
    tried.push(`${candidate.format} at ${candidate.offset}: ${check.reason ?? '?'}`)
  }
  throw new SafeCoderError(
    'IMAGE_BUILD_FAILED',
    `No ELF kernel found inside ${source} (${tried.length === 0 ? 'no xz, zstd or gzip payload' : tried.join('; ')}).`,
    { hint: 'Use a distribution kernel package (bzImage with an xz, zstd or gzip payload).' },
  )
}
