import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { throwIfAborted } from '../../../shared/abort.js'
import { SafeCoderError, isSafeCoderError } from '../../../shared/errors.js'
import { isProcessAlive } from '../../../shared/process-alive.js'
import { xdgBaseDir } from '../../../shared/xdg.js'
import type { GuestImage } from '../types.js'
import { fingerprintTree, hashTreeContent, sha256File } from './fs-walk.js'
import { stage1Script, stage2Script } from './init-scripts.js'
import { buildInitramfs, DEFAULT_BUSYBOX, readStaticBusybox } from './initramfs.js'
import {
  downloadKernelPackage,
  resolveKernelPackage,
  unpackKernel,
  type KernelPackage,
} from './kernel.js'
import { DiskMemo, fileStamps } from './memo.js'
import { GUEST_MODULES, resolveModules } from './modules.js'
import { buildRootfs } from './rootfs.js'
import { findTool, requireTool } from './tools.js'
import { extractVmlinux } from './vmlinux.js'

/**
 * Builds (or finds in the cache) the microVM guest image: an uncompressed kernel from the
 * distribution's kernel package, an initramfs with busybox and the kernel modules the guest
 * needs, and a read-only ext4 root made from the container image's tree plus Node and the
 * guest agent. Everything the image is made from is hashed; the hash names the cache
 * directory, so a changed input gives a new image and an unchanged one is reused. A build
 * happens in a temporary directory next to the cache entry and is renamed into place, so a
 * half-built image is never used.
 */

/** Bump when the image layout or boot scripts change in a way the inputs do not capture. */
export const GUEST_IMAGE_FORMAT = 1

export const IMAGE_FILES = {
  kernel: 'vmlinux',
  initrd: 'initrd.cpio',
  rootfs: 'rootfs.ext4',
  manifest: 'image.json',
} as const

export type GuestImageStep =
  'inputs' | 'cached' | 'kernel' | 'modules' | 'initramfs' | 'tree' | 'rootfs' | 'done'

/** Where the root tree comes from: a directory (read only) or an exporter (the container image). */
export type GuestTreeSource =
  | { dir: string; id?: string }
  | { id: string; export: (into: string, signal?: AbortSignal) => Promise<void> }

export interface GuestImageOptions {
  /** Cache root; each image is `<cacheDir>/<inputs hash prefix>/`. */
  cacheDir: string
  tree: GuestTreeSource
  /** The guest agent's built files (`dist/guest`, entry `main.js`). */
  agentDir: string
  /** Node binary copied into the guest (default: the one running Safe Coder). */
  nodeBinary?: string
  /** A static busybox (default /bin/busybox from busybox-static). */
  busybox?: string
  /** Kernel package or metapackage for apt (default linux-image-amd64). */
  kernelPackage?: string
  /** A local linux-image .deb to use instead of apt. */
  kernelDeb?: string
  /** gzip the initramfs (default: plain cpio, faster to unpack under emulation). */
  gzipInitrd?: boolean
  /** Rebuild even when a cached image has the same inputs. */
  force?: boolean
  onProgress?: (step: GuestImageStep, detail: string) => void
  signal?: AbortSignal
}

/** image.json: what the image was built from, and when. */
export interface GuestImageManifest {
  format: number
  inputs: string
  kernelRelease: string
  kernelPackage: string
  treeId: string
  nodeVersion: string
  modules: string[]
  createdAt: string
  buildMs: number
  sizes: { kernel: number; initrd: number; rootfs: number }
  parts: Record<string, string>
}

export interface BuiltGuestImage extends GuestImage {
  reused: boolean
  manifest: GuestImageManifest
}

/** `$XDG_CACHE_HOME/safe-coder/vm` (an absolute XDG_CACHE_HOME only), else `~/.cache/safe-coder/vm`. */
export function defaultGuestImageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(xdgBaseDir(env, 'XDG_CACHE_HOME'), 'safe-coder', 'vm')
}

const hashMemo = new Map<string, string>()

/**
 * sha256 of a file, remembered by path, size, mtime and inode: in this process, and on disk in
 * the cache when `memo` is given (the Node binary is 100 MB).
 */
async function memoSha256(file: string, memo?: DiskMemo): Promise<string> {
  const key = `sha256:${await fileStamps([file])}`
  const known = hashMemo.get(key) ?? (await memo?.get(key))
  if (known !== undefined) {
    hashMemo.set(key, known)
    return known
  }
  await stat(file)
  const digest = await sha256File(file)
  hashMemo.set(key, digest)
  await memo?.set(key, digest).catch(() => undefined)
  return digest
}

/** What apt's answers depend on: its package cache, the dpkg status and pinning. */
const APT_STATE = [
  '/var/cache/apt/pkgcache.bin',
  '/var/lib/dpkg/status',
  '/etc/apt/preferences',
  '/etc/apt/preferences.d',
  '/var/lib/apt/lists',
]

/** resolveKernelPackage, remembered while apt's state is unchanged. */
async function memoKernelPackage(
  memo: DiskMemo,
  options: { package?: string; signal?: AbortSignal },
): Promise<KernelPackage> {
  const key = `kernel:${options.package ?? ''}:${await fileStamps(APT_STATE)}`
  const known = await memo.get(key)
  if (known !== undefined) {
    const [name, version] = known.split(' ')
    if (name !== undefined && version !== undefined) return { name, version }
  }
  const pkg = await resolveKernelPackage(options)
  await memo.set(key, `${pkg.name} ${pkg.version}`).catch(() => undefined)
  return pkg
}

interface ResolvedInputs {
  inputs: string
  dir: string
  parts: Record<string, string>
  kernel: { pkg?: KernelPackage; deb?: string }
  nodeBinary: string
  busybox: string
  treeId: string
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

async function resolveInputs(options: GuestImageOptions): Promise<ResolvedInputs> {
  const signal = options.signal
  const memo = new DiskMemo(path.join(options.cacheDir, '.memo.json'))
  const nodeBinary = await realpath(options.nodeBinary ?? process.execPath)
  const busybox = options.busybox ?? DEFAULT_BUSYBOX
  const agentMain = path.join(options.agentDir, 'main.js')
  if ((await stat(agentMain).catch(() => undefined))?.isFile() !== true) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `The guest agent is missing: ${agentMain} does not exist.`,
      { hint: 'Build Safe Coder first (npm run build), which writes dist/guest/main.js.' },
    )
  }
  let kernel: ResolvedInputs['kernel']
  let kernelPart: string
  if (options.kernelDeb !== undefined) {
    const deb = path.resolve(options.kernelDeb)
    kernelPart = `deb:${await memoSha256(deb).catch((error: unknown) => {
      throw new SafeCoderError('IMAGE_BUILD_FAILED', `Kernel package ${deb} is missing.`, {
        cause: error,
      })
    })}`
    kernel = { deb }
  } else {
    const pkg = await memoKernelPackage(memo, {
      ...(options.kernelPackage === undefined ? {} : { package: options.kernelPackage }),
      ...(signal === undefined ? {} : { signal }),
    })
    kernelPart = `apt:${pkg.name}=${pkg.version}`
    kernel = { pkg }
  }
  const treeId =
    'export' in options.tree
      ? options.tree.id
      : (options.tree.id ?? `dir:${await fingerprintTree(options.tree.dir)}`)
  const busyboxHash = await memoSha256(busybox).catch((error: unknown) => {
    throw new SafeCoderError('IMAGE_BUILD_FAILED', `${busybox} (busybox) is missing.`, {
      hint: 'Install a static busybox: apt-get install busybox-static',
      cause: error,
    })
  })
  const parts: Record<string, string> = {
    format: String(GUEST_IMAGE_FORMAT),
    kernel: kernelPart,
    tree: treeId,
    node: await memoSha256(nodeBinary, memo),
    agent: await hashTreeContent(options.agentDir),
    busybox: busyboxHash,
    modules: GUEST_MODULES.join(','),
    scripts: sha256(stage1Script(GUEST_MODULES.map((m) => `${m}.ko`)) + stage2Script()),
    initrd: options.gzipInitrd === true ? 'gzip' : 'plain',
  }
  const inputs = sha256(JSON.stringify(parts))
  return {
    inputs,
    dir: path.join(options.cacheDir, inputs.slice(0, 16)),
    parts,
    kernel,
    nodeBinary,
    busybox,
    treeId,
  }
}

/** A complete image in `dir`, or undefined (missing, partial, or another format). */
export async function loadGuestImage(
  dir: string,
): Promise<(GuestImage & { manifest: GuestImageManifest }) | undefined> {
  const manifest = await readFile(path.join(dir, IMAGE_FILES.manifest), 'utf8')
    .then((text) => JSON.parse(text) as GuestImageManifest)
    .catch(() => undefined)
  if (
    manifest?.format !== GUEST_IMAGE_FORMAT ||
    typeof manifest.inputs !== 'string' ||
    typeof manifest.kernelRelease !== 'string' ||
    typeof manifest.sizes !== 'object'
  )
    return undefined
  const files = {
    kernel: path.join(dir, IMAGE_FILES.kernel),
    initrd: path.join(dir, IMAGE_FILES.initrd),
    rootfs: path.join(dir, IMAGE_FILES.rootfs),
  }
  for (const [key, file] of Object.entries(files)) {
    const info = await stat(file).catch(() => undefined)
    if (info?.size !== manifest.sizes[key as keyof typeof files]) return undefined
  }
  return { dir, ...files, kernelRelease: manifest.kernelRelease, inputs: manifest.inputs, manifest }
}

/** The cached image for these inputs, without building (undefined when it is not built yet). */
export async function findGuestImage(
  options: Omit<GuestImageOptions, 'force' | 'onProgress'>,
): Promise<(GuestImage & { manifest: GuestImageManifest }) | undefined> {
  const resolved = await resolveInputs(options)
  return loadGuestImage(resolved.dir)
}

export async function buildGuestImage(options: GuestImageOptions): Promise<BuiltGuestImage> {
  const { signal } = options
  const progress = options.onProgress ?? (() => undefined)
  const started = Date.now()
  progress('inputs', 'hashing the image inputs')
  const resolved = await resolveInputs(options)
  if (options.force !== true) {
    const cached = await loadGuestImage(resolved.dir)
    if (cached !== undefined) {
      progress('cached', resolved.dir)
      return { ...cached, reused: true }
    }
  }
  await preflight(options, resolved)
  await mkdir(options.cacheDir, { recursive: true })
  await removeAbandonedBuilds(options.cacheDir)
  const work = path.join(
    options.cacheDir,
    `.build-${resolved.inputs.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`,
  )
  const out = path.join(work, 'image')
  await mkdir(out, { recursive: true })
  try {
    // Kernel.
    throwIfAborted(signal, 'The guest image build')
    let deb = resolved.kernel.deb
    let kernelPackage = deb === undefined ? '' : path.basename(deb)
    if (resolved.kernel.pkg !== undefined) {
      const pkg = resolved.kernel.pkg
      kernelPackage = `${pkg.name} ${pkg.version}`
      progress('kernel', `apt-get download ${pkg.name}=${pkg.version}`)
      deb = await downloadKernelPackage(pkg, path.join(options.cacheDir, 'debs'), signal)
    }
    if (deb === undefined) throw new Error('no kernel package')
    progress('kernel', `unpacking ${path.basename(deb)}`)
    const unpacked = await unpackKernel(deb, path.join(work, 'kernel-pkg'), signal)
    progress('kernel', `extracting vmlinux from ${path.basename(unpacked.vmlinuz)}`)
    const { vmlinux, compression, pvh } = await extractVmlinux(await readFile(unpacked.vmlinuz), {
      source: path.basename(unpacked.vmlinuz),
      ...(signal === undefined ? {} : { signal }),
    })
    if (!pvh) {
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `The kernel ${unpacked.release} has no PVH entry point (CONFIG_PVH), which QEMU needs to boot an uncompressed kernel.`,
        {
          hint: 'Use a distribution kernel built with CONFIG_PVH=y (Debian and Ubuntu kernels are).',
        },
      )
    }
    await writeFile(path.join(out, IMAGE_FILES.kernel), vmlinux)
    progress('kernel', `${unpacked.release}: ${mib(vmlinux.length)} vmlinux (was ${compression})`)

    // Modules and initramfs.
    throwIfAborted(signal, 'The guest image build')
    progress('modules', `resolving ${GUEST_MODULES.join(', ')}`)
    const modules = await resolveModules(unpacked.moduleRoot, GUEST_MODULES, {
      ...(signal === undefined ? {} : { signal }),
    })
    const busybox = await readStaticBusybox(resolved.busybox)
    progress('initramfs', `${modules.ordered.length} modules + busybox`)
    const initrd = await buildInitramfs({
      busybox,
      modules: modules.ordered,
      gzip: options.gzipInitrd === true,
      ...(signal === undefined ? {} : { signal }),
    })
    await writeFile(path.join(out, IMAGE_FILES.initrd), initrd.bytes)
    await rm(path.join(work, 'kernel-pkg'), { recursive: true, force: true })

    // Root filesystem.
    throwIfAborted(signal, 'The guest image build')
    let tree: string
    let treeIsScratch: boolean
    if ('export' in options.tree) {
      tree = path.join(work, 'tree')
      progress('tree', `exporting ${options.tree.id}`)
      await options.tree.export(tree, signal)
      treeIsScratch = true
    } else {
      tree = options.tree.dir
      treeIsScratch = false
    }
    throwIfAborted(signal, 'The guest image build')
    progress('rootfs', 'mkfs.ext4 -d')
    const rootfs = await buildRootfs({
      tree,
      treeIsScratch,
      scratchDir: work,
      out: path.join(out, IMAGE_FILES.rootfs),
      nodeBinary: resolved.nodeBinary,
      agentDir: options.agentDir,
      busybox: busybox.binary,
      ...(signal === undefined ? {} : { signal }),
    })

    const manifest: GuestImageManifest = {
      format: GUEST_IMAGE_FORMAT,
      inputs: resolved.inputs,
      kernelRelease: unpacked.release,
      kernelPackage,
      treeId: resolved.treeId,
      nodeVersion: await nodeVersionOf(resolved.nodeBinary),
      modules: modules.ordered.map((m) => m.name),
      createdAt: new Date().toISOString(),
      buildMs: Date.now() - started,
      sizes: {
        kernel: vmlinux.length,
        initrd: initrd.bytes.length,
        rootfs: rootfs.sizeBytes,
      },
      parts: resolved.parts,
    }
    await writeFile(path.join(out, IMAGE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`)
    throwIfAborted(signal, 'The guest image build')
    await install(out, resolved.dir, options.force === true, work)
    const image = await loadGuestImage(resolved.dir)
    if (image === undefined) throw new Error(`the image in ${resolved.dir} did not verify`)
    progress('done', `${resolved.dir} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return { ...image, reused: false }
  } catch (error) {
    if (isSafeCoderError(error)) throw error
    if (signal?.aborted === true)
      throw new SafeCoderError('ABORTED', 'The guest image build was cancelled.', { cause: error })
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `Building the guest image failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, hint: 'Run with --force to rebuild from scratch.' },
    )
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => undefined)
  }
}

/** Removes build directories left by processes that died mid-build (named with their pid). */
async function removeAbandonedBuilds(cacheDir: string): Promise<void> {
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    const pid = /^\.build-[0-9a-f]+-(\d+)-[0-9a-f]+$/.exec(name)?.[1]
    if (pid === undefined || isProcessAlive(Number(pid))) continue
    await rm(path.join(cacheDir, name), { recursive: true, force: true }).catch(() => undefined)
  }
}

/** Renames the finished image into place; a concurrent build that won the race is kept. */
async function install(from: string, to: string, force: boolean, work: string): Promise<void> {
  if (force) {
    const old = path.join(work, 'replaced')
    await rename(to, old).catch(() => undefined)
  }
  try {
    await rename(from, to)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await loadGuestImage(to)) !== undefined)
      return
    if (code === 'ENOTEMPTY' || code === 'EEXIST') {
      // A broken leftover (e.g. a build killed mid-rename): replace it.
      await rename(to, path.join(work, 'broken'))
      await rename(from, to)
      return
    }
    throw error
  }
}

async function preflight(options: GuestImageOptions, resolved: ResolvedInputs): Promise<void> {
  await requireTool('mkfs.ext4', 'to write the guest root filesystem')
  await requireTool('dpkg-deb', 'to unpack the guest kernel package')
  await readStaticBusybox(resolved.busybox)
  if ('export' in options.tree && process.getuid?.() !== 0) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      'Building the guest image needs root: the root filesystem keeps the image files’ owners.',
      { hint: 'Run the guest image build as root (sudo safe-coder image build --vm).' },
    )
  }
}

async function nodeVersionOf(nodeBinary: string): Promise<string> {
  if (nodeBinary === (await realpath(process.execPath).catch(() => ''))) return process.version
  const { execa } = await import('execa')
  const result = await execa(nodeBinary, ['--version'], { reject: false, stdin: 'ignore' })
  return result.stdout.trim()
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/**
 * Deletes all but the `keep` newest complete images (and build directories of dead
 * processes). VMs still running from a deleted image keep working: their VMM holds the files
 * open. Returns the removed directories.
 */
export async function pruneGuestImages(
  cacheDir: string,
  options: { keep?: number; except?: readonly string[] } = {},
): Promise<string[]> {
  await removeAbandonedBuilds(cacheDir)
  const keep = Math.max(0, options.keep ?? 2)
  const except = new Set((options.except ?? []).map((dir) => path.resolve(dir)))
  const { images } = await guestImageStatus(cacheDir, { checkBuild: false })
  const removed: string[] = []
  for (const image of images.slice(keep)) {
    if (except.has(path.resolve(image.dir))) continue
    await rm(image.dir, { recursive: true, force: true })
    removed.push(image.dir)
  }
  return removed
}

export interface GuestImageStatus {
  cacheDir: string
  /** Complete images in the cache, newest first. */
  images: (GuestImage & { manifest: GuestImageManifest })[]
  /** What would stop a build on this host (missing tools, not root), each with a fix. */
  buildProblems: { reason: string; hint: string }[]
}

/** What the cache holds and whether this host could build an image (for `doctor`). */
export async function guestImageStatus(
  cacheDir: string = defaultGuestImageCacheDir(),
  options: { busybox?: string; checkBuild?: boolean } = {},
): Promise<GuestImageStatus> {
  const names = await readdir(cacheDir).catch(() => [])
  const images: GuestImageStatus['images'] = []
  for (const name of names) {
    if (name.startsWith('.') || name === 'debs') continue
    const image = await loadGuestImage(path.join(cacheDir, name))
    if (image !== undefined) images.push(image)
  }
  images.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt))
  const buildProblems: GuestImageStatus['buildProblems'] = []
  if (options.checkBuild === false) return { cacheDir, images, buildProblems }
  const tools: [string, string][] = [
    ['mkfs.ext4', 'e2fsprogs'],
    ['debugfs', 'e2fsprogs'],
    ['dpkg-deb', 'dpkg'],
    ['apt-get', 'apt'],
    ['xz', 'xz-utils'],
  ]
  for (const [tool, pkg] of tools) {
    if ((await findTool(tool)) === undefined)
      buildProblems.push({ reason: `${tool} is not installed`, hint: `apt-get install ${pkg}` })
  }
  await readStaticBusybox(options.busybox ?? DEFAULT_BUSYBOX).catch((error: unknown) => {
    if (isSafeCoderError(error))
      buildProblems.push({
        reason: error.message,
        hint: error.hint ?? 'apt-get install busybox-static',
      })
  })
  if (process.getuid?.() !== 0)
    buildProblems.push({
      reason: 'not root (the image export keeps file owners)',
      hint: 'build the guest image as root',
    })
  return { cacheDir, images, buildProblems }
}
