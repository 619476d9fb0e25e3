import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { execa } from 'execa'
import { SafeCoderError } from '../../../shared/errors.js'

/**
 * Kernel modules the guest's initramfs loads. A distribution kernel builds the virtio, ext4,
 * overlay and vsock drivers as modules; busybox `insmod` loads one file and resolves nothing,
 * so the initramfs carries the modules and their dependencies and loads them in order.
 * Dependencies come from each module's own `.modinfo` section (what `modinfo -F depends`
 * prints), so neither kmod nor a `modules.dep` (made by depmod at install time) is needed.
 */

/** Loaded in this order of intent; dependencies are pulled in ahead of each. */
export const GUEST_MODULES = [
  // The checksum driver ext4 and jbd2 ask the crypto API for when the fs has metadata_csum;
  // without modprobe in the initramfs the kernel could not load it on demand.
  'crc32c_generic',
  'virtio_mmio',
  'virtio_blk',
  'virtio_console',
  'ext4',
  'overlay',
  // Firecracker's agent channel.
  'vsock',
  'vmw_vsock_virtio_transport',
] as const

export interface KernelModule {
  /** Canonical name (`-` replaced by `_`), as `lsmod` shows it. */
  name: string
  /** Absolute path of the file (maybe `.ko.xz`, `.ko.zst` or `.ko.gz`). */
  file: string
  depends: string[]
}

export interface ModuleSet {
  /** Every module to load, dependencies before dependants. */
  ordered: KernelModule[]
  /** Requested modules built into the kernel: nothing to load. */
  builtin: string[]
}

export function canonicalModuleName(name: string): string {
  return name.replace(/-/g, '_')
}

const MODULE_FILE = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/

/** The key=value pairs of a module's `.modinfo` ELF section (a key may repeat). */
export function readModinfo(ko: Uint8Array): Map<string, string[]> {
  const view = new DataView(ko.buffer, ko.byteOffset, ko.byteLength)
  if (ko.length < 64 || view.getUint32(0) !== 0x7f454c46 || ko[4] !== 2 || ko[5] !== 1)
    throw new Error('not a 64-bit little-endian ELF module')
  const shoff = Number(view.getBigUint64(0x28, true))
  const shentsize = view.getUint16(0x3a, true)
  const shnum = view.getUint16(0x3c, true)
  const shstrndx = view.getUint16(0x3e, true)
  if (shoff + shnum * shentsize > ko.length || shstrndx >= shnum)
    throw new Error('section headers outside the file')
  const section = (index: number): { name: number; offset: number; size: number } => {
    const at = shoff + index * shentsize
    return {
      name: view.getUint32(at, true),
      offset: Number(view.getBigUint64(at + 24, true)),
      size: Number(view.getBigUint64(at + 32, true)),
    }
  }
  const strtab = section(shstrndx)
  const decoder = new TextDecoder()
  const nameAt = (offset: number): string => {
    const start = strtab.offset + offset
    let end = start
    while (end < ko.length && ko[end] !== 0) end++
    return decoder.decode(ko.subarray(start, end))
  }
  const info = new Map<string, string[]>()
  for (let i = 0; i < shnum; i++) {
    const header = section(i)
    if (nameAt(header.name) !== '.modinfo') continue
    const text = decoder.decode(ko.subarray(header.offset, header.offset + header.size))
    for (const entry of text.split('\0')) {
      const eq = entry.indexOf('=')
      if (eq <= 0) continue
      const key = entry.slice(0, eq)
      info.set(key, [...(info.get(key) ?? []), entry.slice(eq + 1)])
    }
  }
  return info
}

/** A module file's bytes, decompressed (busybox insmod takes plain `.ko` files). */
export async function readModuleFile(file: string, signal?: AbortSignal): Promise<Buffer> {
  const raw = await readFile(file)
  if (file.endsWith('.gz')) return gunzipSync(raw)
  if (!file.endsWith('.xz') && !file.endsWith('.zst')) return raw
  const tool = file.endsWith('.xz') ? 'xz' : 'zstd'
  const result = await execa(tool, ['-dc'], {
    input: raw,
    encoding: 'buffer',
    reject: false,
    cancelSignal: signal,
  })
  if (result.exitCode !== 0) {
    throw new SafeCoderError('IMAGE_BUILD_FAILED', `Cannot decompress ${file} with ${tool}.`, {
      hint: `Install ${tool === 'xz' ? 'xz-utils' : 'zstd'}.`,
    })
  }
  return Buffer.from(result.stdout)
}

/** name → file for every module under `<moduleRoot>/kernel` (and `updates`, `extra`). */
export async function indexModules(moduleRoot: string): Promise<Map<string, string>> {
  const index = new Map<string, string>()
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) await walk(full)
      else {
        const match = MODULE_FILE.exec(entry.name)
        if (match?.[1] !== undefined) {
          const name = canonicalModuleName(match[1])
          if (!index.has(name)) index.set(name, full)
        }
      }
    }
  }
  // depmod's default search order: updates and extra take precedence over the stock tree.
  for (const sub of ['updates', 'extra', 'kernel']) await walk(path.join(moduleRoot, sub))
  return index
}

/** Names listed in `modules.builtin` (compiled into the kernel, not loadable). */
export async function builtinModules(moduleRoot: string): Promise<Set<string>> {
  const text = await readFile(path.join(moduleRoot, 'modules.builtin'), 'utf8').catch(() => '')
  const names = new Set<string>()
  for (const line of text.split('\n')) {
    const match = MODULE_FILE.exec(path.basename(line.trim()))
    if (match?.[1] !== undefined) names.add(canonicalModuleName(match[1]))
  }
  return names
}

/**
 * The modules to load for `wanted`, dependencies first (a depth-first post-order), each once.
 * `readDepends` is injectable for tests; by default it reads the file's `.modinfo`.
 */
export async function resolveModules(
  moduleRoot: string,
  wanted: readonly string[],
  options: {
    readDepends?: (file: string) => Promise<string[]>
    signal?: AbortSignal
  } = {},
): Promise<ModuleSet> {
  const index = await indexModules(moduleRoot)
  const builtin = await builtinModules(moduleRoot)
  const readDepends =
    options.readDepends ??
    (async (file: string): Promise<string[]> => {
      const info = readModinfo(await readModuleFile(file, options.signal))
      return (info.get('depends') ?? [])
        .flatMap((list) => list.split(','))
        .map((name) => name.trim())
        .filter((name) => name !== '')
    })
  const ordered: KernelModule[] = []
  const builtinWanted: string[] = []
  const done = new Set<string>()
  const visiting: string[] = []
  const visit = async (raw: string, wantedBy: string | undefined): Promise<void> => {
    const name = canonicalModuleName(raw)
    if (done.has(name)) return
    if (visiting.includes(name))
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `Kernel module dependency cycle: ${[...visiting, name].join(' → ')}.`,
      )
    const file = index.get(name)
    if (file === undefined) {
      done.add(name)
      if (builtin.has(name)) {
        if (wantedBy === undefined) builtinWanted.push(name)
        return
      }
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `Kernel module ${name}${wantedBy === undefined ? '' : ` (needed by ${wantedBy})`} is neither in ${moduleRoot} nor built in.`,
        {
          hint: 'Use a kernel that builds virtio-mmio, virtio-blk, virtio-console, ext4, overlay and vsock (as modules or built in).',
          data: { module: name },
        },
      )
    }
    visiting.push(name)
    const depends = await readDepends(file)
    for (const dep of depends) await visit(dep, name)
    visiting.pop()
    done.add(name)
    ordered.push({ name, file, depends: depends.map(canonicalModuleName) })
  }
  for (const name of wanted) await visit(name, undefined)
  return { ordered, builtin: builtinWanted }
}
