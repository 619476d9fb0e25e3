import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError } from '../../../shared/errors.js'
import { requireTool, runTool } from './tools.js'

/**
 * The guest kernel comes from the distribution: `apt-get download` of the kernel package the
 * `linux-image-amd64` metapackage points at (works wherever apt does, no root and no install),
 * unpacked with `dpkg-deb -x`. Packages are cached by name and version.
 */

export const DEFAULT_KERNEL_METAPACKAGE = 'linux-image-amd64'

export interface KernelPackage {
  /** e.g. `linux-image-6.1.0-56-amd64`. */
  name: string
  /** e.g. `6.1.192-2`. */
  version: string
}

export interface UnpackedKernel {
  /** The compressed kernel (bzImage). */
  vmlinuz: string
  /** `lib/modules/<release>` inside the unpacked tree. */
  moduleRoot: string
  /** `uname -r` of this kernel, from its modules directory name. */
  release: string
}

const aptHint =
  'Check that apt works (apt-get update), or give a kernel package file with the kernelDeb option.'

/** The concrete kernel package behind the metapackage and its candidate version (apt-cache). */
export async function resolveKernelPackage(
  options: { package?: string; signal?: AbortSignal } = {},
): Promise<KernelPackage> {
  if (process.arch !== 'x64') {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `The microVM guest image is built for x86-64 only (this host is ${process.arch}).`,
      { hint: 'Use the Docker backend on this host.' },
    )
  }
  const aptCache = await requireTool('apt-cache', 'to find the guest kernel package')
  let name = options.package ?? DEFAULT_KERNEL_METAPACKAGE
  // Follow metapackages (linux-image-amd64 → linux-image-6.1.0-56-amd64) until a real image.
  for (let hop = 0; hop < 4 && !/^linux-image-\d/.test(name); hop++) {
    const { stdout } = await runTool(aptCache, ['depends', name], {
      what: `apt-cache depends ${name}`,
      hint: aptHint,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    const next = /Depends:\s+(linux-image-\S+)/.exec(stdout)?.[1]
    if (next === undefined) {
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `apt-cache does not know which kernel ${name} installs.`,
        { hint: aptHint },
      )
    }
    name = next
  }
  const { stdout } = await runTool(aptCache, ['policy', name], {
    what: `apt-cache policy ${name}`,
    hint: aptHint,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
  const version = /Candidate:\s+(\S+)/.exec(stdout)?.[1]
  if (version === undefined || version === '(none)') {
    throw new SafeCoderError('IMAGE_BUILD_FAILED', `No installable version of ${name} in apt.`, {
      hint: aptHint,
    })
  }
  return { name, version }
}

/** The .deb file name apt gives a package (the epoch's `:` is escaped as `%3a`). */
export function debFileName(pkg: KernelPackage, arch = 'amd64'): string {
  return `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}_${arch}.deb`
}

/** Downloads the package into `debDir` unless it is there already; returns the file. */
export async function downloadKernelPackage(
  pkg: KernelPackage,
  debDir: string,
  signal?: AbortSignal,
): Promise<string> {
  const target = path.join(debDir, debFileName(pkg))
  if ((await stat(target).catch(() => undefined))?.isFile() === true) return target
  const aptGet = await requireTool('apt-get', 'to download the guest kernel')
  await mkdir(debDir, { recursive: true })
  // Download into a private directory, then rename: a half-written .deb is never picked up.
  const temp = await mkdtemp(path.join(debDir, '.download-'))
  try {
    await runTool(
      aptGet,
      // As root apt drops to the _apt user, which cannot write into our cache directory.
      ['-o', 'APT::Sandbox::User=root', 'download', `${pkg.name}=${pkg.version}`],
      {
        what: `Downloading kernel package ${pkg.name} ${pkg.version}`,
        hint: `Kernel download failed; check the apt sources and network (apt-get update), or give a kernel package file with the kernelDeb option.`,
        cwd: temp,
        ...(signal === undefined ? {} : { signal }),
      },
    )
    const got = (await readdir(temp)).find((f) => f.endsWith('.deb'))
    if (got === undefined) {
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `apt-get download left no .deb for ${pkg.name}.`,
        {
          hint: aptHint,
        },
      )
    }
    await rename(path.join(temp, got), target)
    return target
  } finally {
    await rm(temp, { recursive: true, force: true })
  }
}

/** `dpkg-deb -x` the package into `into` and finds the kernel and its modules there. */
export async function unpackKernel(
  deb: string,
  into: string,
  signal?: AbortSignal,
): Promise<UnpackedKernel> {
  const dpkgDeb = await requireTool('dpkg-deb', 'to unpack the guest kernel package')
  await mkdir(into, { recursive: true })
  await runTool(dpkgDeb, ['-x', deb, into], {
    what: `Unpacking ${path.basename(deb)}`,
    hint: 'The kernel package may be damaged: delete it from the cache and build again.',
    ...(signal === undefined ? {} : { signal }),
  })
  const found = (dir: string): Promise<string[]> => readdir(path.join(into, dir)).catch(() => [])
  const boot = (await found('boot')).filter((f) => f.startsWith('vmlinuz-'))
  let modulesDir = 'lib/modules'
  let releases = await found(modulesDir)
  if (releases.length === 0) {
    modulesDir = 'usr/lib/modules'
    releases = await found(modulesDir)
  }
  const release = releases[0]
  const vmlinuz = boot.find((f) => f === `vmlinuz-${release ?? ''}`) ?? boot[0]
  if (vmlinuz === undefined || release === undefined) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `${path.basename(deb)} holds no ${vmlinuz === undefined ? 'boot/vmlinuz-*' : 'lib/modules/<release>'}: not a kernel image package.`,
      { hint: 'Give a linux-image-* package.' },
    )
  }
  return {
    vmlinuz: path.join(into, 'boot', vmlinuz),
    moduleRoot: path.join(into, modulesDir, release),
    release,
  }
}
