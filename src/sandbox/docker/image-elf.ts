/** What the ELF header says about how a binary is linked. */
export type ElfLinkage =
  { kind: 'not-elf' } | { kind: 'static' } | { kind: 'dynamic'; interpreter: string }

const PT_INTERP = 3

/**
 * A binary is static when it has no PT_INTERP program header: nothing but the kernel is needed
 * to start it, so it runs in an image with no libc. (Static-PIE binaries count as static.)
 */
export function elfLinkage(bytes: Uint8Array): ElfLinkage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < 52 || view.getUint32(0) !== 0x7f454c46) return { kind: 'not-elf' }
  const is64 = bytes[4] === 2
  const little = bytes[5] === 1
  if (is64 && bytes.length < 64) return { kind: 'not-elf' }
  const phoff = is64 ? Number(view.getBigUint64(0x20, little)) : view.getUint32(0x1c, little)
  const phentsize = view.getUint16(is64 ? 0x36 : 0x2a, little)
  const phnum = view.getUint16(is64 ? 0x38 : 0x2c, little)
  for (let i = 0; i < phnum; i++) {
    const header = phoff + i * phentsize
    if (header + phentsize > bytes.length) return { kind: 'not-elf' }
    if (view.getUint32(header, little) !== PT_INTERP) continue
    const offset = is64
      ? Number(view.getBigUint64(header + 8, little))
      : view.getUint32(header + 4, little)
    const size = is64
      ? Number(view.getBigUint64(header + 32, little))
      : view.getUint32(header + 16, little)
    const raw = bytes.subarray(offset, offset + size)
    return { kind: 'dynamic', interpreter: new TextDecoder().decode(raw).replace(/\0+$/, '') }
  }
  return { kind: 'static' }
}
