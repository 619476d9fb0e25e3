import type Docker from 'dockerode'
import { throwIfAborted } from '../../shared/abort.js'
import { SafeCoderError } from '../../shared/errors.js'
import { VERSION } from '../../shared/version.js'
import { findExecutable, runDebootstrap } from './image-debootstrap.js'
import { importRootfs } from './image-import.js'
import { inspectImage } from './image-inspect.js'
import { createBuildDir, createSandboxDirs, removeBuildTree, trimRootfs } from './image-rootfs.js'
import { IMAGE_LABELS, IMAGE_PATH, normalizePackages, sandboxInputsHash } from './image-spec.js'
import type { ImageSpec } from './image-spec.js'

export interface BuildImageOptions {
  docker: Docker
  /** The reference to build, e.g. SANDBOX_IMAGE. */
  tag: string
  /** Debian suite (`bookworm`), mirror URL and packages: `[image]` in the config. */
  suite: string
  mirror: string
  packages: string[]
  /** Rebuild even when an image with the same inputs exists. */
  force?: boolean
  signal?: AbortSignal
  /** Human-readable steps: 'reuse', 'debootstrap', 'trim', 'import', 'done'. */
  onProgress?: (step: string, detail?: string) => void
  /**
   * Where the root filesystem is built. Default: a temporary directory, always removed. A given
   * directory must be empty or absent and is kept, so the same tree can feed the microVM image.
   */
  workDir?: string
  /** How the user started the build, for the "run it as root" hint. */
  command?: string
}

export interface BuildImageResult {
  tag: string
  id: string
  /** True when an up-to-date image was found and nothing was built. */
  reused: boolean
  durationMs: number
  /** Uncompressed size, as the engine reports it. */
  sizeBytes: number
}

/**
 * Builds the default sandbox image without a registry: debootstrap a minimal Debian tree with
 * the configured packages, trim it, and import it into the engine. Debian/Ubuntu hosts, as root.
 */
export async function buildSandboxImage(options: BuildImageOptions): Promise<BuildImageResult> {
  const started = performance.now()
  const { docker, tag, signal } = options
  const progress = options.onProgress ?? (() => undefined)
  const inputs = sandboxInputsHash(options)
  const elapsed = (): number => Math.round(performance.now() - started)

  const existing = await inspectImage(docker, tag)
  if (options.force !== true && existing?.labels[IMAGE_LABELS.inputs] === inputs) {
    progress('reuse', `${tag} is up to date (${existing.id.slice(7, 19)})`)
    return { tag, id: existing.id, reused: true, durationMs: elapsed(), sizeBytes: existing.size }
  }
  const debootstrap = await checkBuildHost(options.command ?? 'safe-coder image build')
  throwIfAborted(signal, 'Image build')

  const build = await createBuildDir(options.workDir)
  try {
    progress('debootstrap', `${options.suite} from ${options.mirror} into ${build.root}`)
    await runDebootstrap({
      debootstrap,
      target: build.root,
      suite: options.suite,
      mirror: options.mirror,
      packages: normalizePackages(options.packages),
      ...(signal === undefined ? {} : { signal }),
      onLine: (line) => {
        progress('debootstrap', line.replace(/^I: /, ''))
      },
    })
    progress('trim', 'removing apt lists, caches, docs, manuals and translations')
    await trimRootfs(build.root)
    await createSandboxDirs(build.root)
    throwIfAborted(signal, 'Image build')
    progress('import', `importing the tree into the engine as ${tag}`)
    const image = await importRootfs(docker, {
      dir: build.root,
      tag,
      spec: sandboxSpec(options, inputs),
      ...(signal === undefined ? {} : { signal }),
    })
    progress('done', `${tag} (${image.id.slice(7, 19)})`)
    return { tag, id: image.id, reused: false, durationMs: elapsed(), sizeBytes: image.size }
  } finally {
    if (build.temporary) await removeBuildTree(build.root)
  }
}

function sandboxSpec(options: BuildImageOptions, inputs: string): ImageSpec {
  return {
    workdir: '/workspace',
    env: { PATH: IMAGE_PATH, LANG: 'C.UTF-8' },
    cmd: ['/bin/sh'],
    labels: {
      [IMAGE_LABELS.kind]: 'sandbox',
      [IMAGE_LABELS.version]: VERSION,
      [IMAGE_LABELS.inputs]: inputs,
      [IMAGE_LABELS.packages]: normalizePackages(options.packages).join(','),
    },
  }
}

// Fail before creating anything: debootstrap is Debian tooling and must run as root.
async function checkBuildHost(command: string): Promise<string> {
  if (process.platform !== 'linux') {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `Cannot build the sandbox image on ${process.platform}: it needs debootstrap on a Debian or Ubuntu host.`,
      { hint: 'Build it on a Debian/Ubuntu machine, or set [docker] image to an image you have.' },
    )
  }
  const debootstrap = await findExecutable('debootstrap')
  if (debootstrap === undefined) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      'Cannot build the sandbox image: debootstrap is not installed (image builds work on Debian/Ubuntu hosts).',
      { hint: 'apt-get install debootstrap' },
    )
  }
  if (process.getuid?.() !== 0) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      'Cannot build the sandbox image: debootstrap needs root to create device nodes, chroot and set file owners.',
      { hint: `Run it as root: sudo ${command}` },
    )
  }
  return debootstrap
}
