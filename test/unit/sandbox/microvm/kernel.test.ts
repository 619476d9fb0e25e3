import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  GUEST_MODULES,
  canonicalModuleName,
  readModinfo,
  resolveModules,
} from '../../../../src/sandbox/microvm/image/modules.js'
import { debFileName } from '../../../../src/sandbox/microvm/image/kernel.js'
import {
  checkVmlinux,
  extractVmlinux,
  findKernelPayloads,
} from '../../../../src/sandbox/microvm/image/vmlinux.js'
import { SafeCoderError } from '../../../../src/shared/errors.js'
import { realKernel, type KernelFixture } from './kernel-fixture.js'

/** A minimal x86-64 ELF executable: header, one PT_NOTE (PVH note optional), section table. */
function fakeVmlinux(options: { pvh?: boolean; padding?: number } = {}): Buffer {
  const note = Buffer.alloc(20)
  note.writeUInt32LE(4, 0) // namesz ("Xen\0")
  note.writeUInt32LE(4, 4) // descsz
  note.writeUInt32LE(options.pvh === false ? 17 : 18, 8) // XEN_ELFNOTE_PHYS32_ENTRY = 18
  note.write('Xen\0', 12, 'latin1')
  const phoff = 64
  const noteOffset = phoff + 56
  const body = Buffer.alloc(options.padding ?? 1000)
  const shoff = noteOffset + note.length + body.length
  const shnum = 1
  const elf = Buffer.alloc(shoff + shnum * 64)
  elf.writeUInt32BE(0x7f454c46, 0)
  elf[4] = 2
  elf[5] = 1
  elf[6] = 1
  elf.writeUInt16LE(2, 0x10) // ET_EXEC
  elf.writeUInt16LE(0x3e, 0x12) // EM_X86_64
  elf.writeBigUInt64LE(BigInt(phoff), 0x20)
  elf.writeBigUInt64LE(BigInt(shoff), 0x28)
  elf.writeUInt16LE(56, 0x36)
  elf.writeUInt16LE(1, 0x38)
  elf.writeUInt16LE(64, 0x3a)
  elf.writeUInt16LE(shnum, 0x3c)
  elf.writeUInt32LE(4, phoff) // PT_NOTE
  elf.writeBigUInt64LE(BigInt(noteOffset), phoff + 8)
  elf.writeBigUInt64LE(BigInt(note.length), phoff + 32)
  note.copy(elf, noteOffset)
  return elf
}

/** A bzImage-like file: setup sectors, "HdrS" boot header pointing at a gzip payload. */
function fakeBzImage(payload: Buffer, options: { header?: boolean } = {}): Buffer {
  const setupSects = 3
  const pmStart = (setupSects + 1) * 512
  // A gzip magic that starts no valid stream, ahead of the real one.
  const junk = Buffer.from('decompressor code \x1f\x8b\x08\x00 not a stream', 'latin1')
  const payloadOffset = junk.length
  // The kernel appends the uncompressed size after the compressed stream.
  const withSize = Buffer.concat([payload, Buffer.alloc(4, 0x55)])
  const file = Buffer.alloc(pmStart + payloadOffset + withSize.length + 64)
  if (options.header !== false) {
    file[0x1f1] = setupSects
    file.write('HdrS', 0x202, 'latin1')
    file.writeUInt16LE(0x20f, 0x206)
    file.writeUInt32LE(payloadOffset, 0x248)
    file.writeUInt32LE(withSize.length, 0x24c)
  }
  junk.copy(file, pmStart)
  withSize.copy(file, pmStart + payloadOffset)
  return file
}

/** An ELF relocatable with a `.modinfo` section, as a kernel module has. */
function fakeModule(info: string[]): Buffer {
  const shstrtab = Buffer.from('\0.shstrtab\0.modinfo\0')
  const modinfo = Buffer.from(`${info.join('\0')}\0\0\0`)
  const dataStart = 64
  const shoff = dataStart + shstrtab.length + modinfo.length
  const elf = Buffer.alloc(shoff + 3 * 64)
  elf.writeUInt32BE(0x7f454c46, 0)
  elf[4] = 2
  elf[5] = 1
  elf.writeUInt16LE(1, 0x10) // ET_REL
  elf.writeUInt16LE(0x3e, 0x12)
  elf.writeBigUInt64LE(BigInt(shoff), 0x28)
  elf.writeUInt16LE(64, 0x3a)
  elf.writeUInt16LE(3, 0x3c)
  elf.writeUInt16LE(1, 0x3e) // shstrndx
  shstrtab.copy(elf, dataStart)
  modinfo.copy(elf, dataStart + shstrtab.length)
  const section = (index: number, name: number, offset: number, size: number): void => {
    const at = shoff + index * 64
    elf.writeUInt32LE(name, at)
    elf.writeBigUInt64LE(BigInt(offset), at + 24)
    elf.writeBigUInt64LE(BigInt(size), at + 32)
  }
  section(1, 1, dataStart, shstrtab.length)
  section(2, 11, dataStart + shstrtab.length, modinfo.length)
  return elf
}

let dir: string
let kernel: KernelFixture | undefined

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sc-kernel-'))
  kernel = await realKernel()
}, 120_000)
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('vmlinux extraction', () => {
  it('checks the ELF: magic, machine, truncation, PVH note', () => {
    const elf = fakeVmlinux()
    expect(checkVmlinux(elf)).toEqual({ ok: true, pvh: true })
    expect(checkVmlinux(fakeVmlinux({ pvh: false }))).toEqual({ ok: true, pvh: false })
    expect(checkVmlinux(elf.subarray(0, elf.length - 10)).ok).toBe(false)
    expect(
      checkVmlinux(
        Buffer.from('MZ not an elf at all, just bytes........................................'),
      ).ok,
    ).toBe(false)
    const arm = Buffer.from(elf)
    arm.writeUInt16LE(0xb7, 0x12)
    expect(checkVmlinux(arm).reason).toMatch(/x86-64/)
  })

  it('finds the payload from the boot header, then by scanning', () => {
    const gz = gzipSync(fakeVmlinux())
    const withHeader = findKernelPayloads(fakeBzImage(gz))
    expect(withHeader[0]).toMatchObject({ format: 'gzip', exact: true, length: gz.length + 4 })
    const scanned = findKernelPayloads(fakeBzImage(gz, { header: false }))
    expect(scanned.every((c) => !c.exact)).toBe(true)
    expect(scanned.map((c) => c.format)).toContain('gzip')
  })

  it('decompresses a gzip payload with the host gzip and skips false magics', async () => {
    const elf = fakeVmlinux({ padding: 200_000 })
    for (const header of [true, false]) {
      const out = await extractVmlinux(fakeBzImage(gzipSync(elf), { header }))
      expect(out.compression).toBe('gzip')
      expect(out.pvh).toBe(true)
      expect(out.vmlinux.equals(elf)).toBe(true)
    }
  })

  it('says what it tried when there is no kernel inside', async () => {
    const error = await extractVmlinux(Buffer.alloc(10_000, 1), { source: 'junk' }).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).code).toBe('IMAGE_BUILD_FAILED')
    expect((error as SafeCoderError).message).toMatch(/No ELF kernel found inside junk/)
  })

  it('extracts the real distribution kernel', async (ctx) => {
    if (kernel === undefined) return ctx.skip()
    const bz = await readFile(kernel.vmlinuz)
    const started = Date.now()
    const out = await extractVmlinux(bz)
    expect(out.vmlinux.readUInt32BE(0)).toBe(0x7f454c46)
    expect(checkVmlinux(out.vmlinux)).toMatchObject({ ok: true, pvh: true })
    expect(out.vmlinux.length).toBeGreaterThan(bz.length * 2)
    expect(['xz', 'zstd', 'gzip']).toContain(out.compression)
    expect(findKernelPayloads(bz)[0]?.exact).toBe(true)
    expect(Date.now() - started).toBeLessThan(30_000)
  }, 60_000)
})

describe('kernel modules', () => {
  it('reads .modinfo key=value pairs', () => {
    const info = readModinfo(
      fakeModule(['license=GPL', 'depends=jbd2,mbcache,crc16', 'alias=fs-ext4', 'alias=ext3']),
    )
    expect(info.get('depends')).toEqual(['jbd2,mbcache,crc16'])
    expect(info.get('alias')).toEqual(['fs-ext4', 'ext3'])
    expect(() => readModinfo(Buffer.from('nope'))).toThrow()
  })

  it('orders dependencies first, each once, skipping built-ins', async () => {
    const root = path.join(dir, 'modules')
    const mods: Record<string, string[]> = {
      ext4: ['jbd2', 'mbcache', 'crc16'],
      jbd2: [],
      mbcache: [],
      crc16: [],
      'virtio-blk': ['virtio', 'virtio_ring'],
      virtio: ['virtio_ring'],
      virtio_ring: [],
    }
    for (const [name, depends] of Object.entries(mods)) {
      const file = path.join(root, 'kernel', `${name}.ko`)
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, fakeModule([`depends=${depends.join(',')}`, `name=${name}`]))
    }
    await writeFile(path.join(root, 'modules.builtin'), 'kernel/fs/overlayfs/overlay.ko\n')
    const set = await resolveModules(root, ['ext4', 'virtio_blk', 'overlay', 'virtio'])
    expect(set.ordered.map((m) => m.name)).toEqual([
      'jbd2',
      'mbcache',
      'crc16',
      'ext4',
      'virtio_ring',
      'virtio',
      'virtio_blk',
    ])
    expect(set.builtin).toEqual(['overlay'])
    expect(canonicalModuleName('vmw-vsock')).toBe('vmw_vsock')
  })

  it('reports a missing module and a dependency cycle', async () => {
    const root = path.join(dir, 'broken')
    await mkdir(path.join(root, 'kernel'), { recursive: true })
    await writeFile(path.join(root, 'kernel/a.ko'), fakeModule(['depends=b']))
    await writeFile(path.join(root, 'kernel/b.ko'), fakeModule(['depends=a']))
    await writeFile(path.join(root, 'kernel/c.ko'), fakeModule(['depends=zzz']))
    await expect(resolveModules(root, ['a'])).rejects.toThrow(/cycle: a → b → a/)
    await expect(resolveModules(root, ['c'])).rejects.toThrow(/zzz \(needed by c\)/)
  })

  it('resolves the guest modules of the real kernel in load order', async (ctx) => {
    if (kernel === undefined) return ctx.skip()
    const set = await resolveModules(kernel.moduleRoot, GUEST_MODULES)
    const order = set.ordered.map((m) => m.name)
    const before = (a: string, b: string): void => {
      expect(order.indexOf(a), `${a} before ${b}`).toBeGreaterThanOrEqual(0)
      expect(order.indexOf(a)).toBeLessThan(order.indexOf(b))
    }
    before('jbd2', 'ext4')
    before('mbcache', 'ext4')
    before('virtio_ring', 'virtio')
    before('virtio', 'virtio_mmio')
    before('virtio', 'virtio_blk')
    before('vsock', 'vmw_vsock_virtio_transport')
    before('vmw_vsock_virtio_transport_common', 'vmw_vsock_virtio_transport')
    expect(new Set(order).size).toBe(order.length)
    // Cross-check with kmod where it is installed.
    if (spawnSync('modinfo', ['--version']).status === 0) {
      for (const mod of set.ordered) {
        const out = spawnSync('modinfo', ['-F', 'depends', mod.file], { encoding: 'utf8' })
        const expected = out.stdout.trim() === '' ? [] : out.stdout.trim().split(',')
        expect(mod.depends.sort()).toEqual(expected.sort())
      }
    }
  })

  it('names .deb files as apt does', () => {
    expect(debFileName({ name: 'linux-image-6.1.0-56-amd64', version: '6.1.192-2' })).toBe(
      'linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb',
    )
    expect(debFileName({ name: 'x', version: '1:2.3' })).toBe('x_1%3a2.3_amd64.deb')
  })
})
