import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type Docker from 'dockerode'
import { execa } from 'execa'
import { throwIfAborted } from '../../shared/abort.js'
import { SafeCoderError, errnoOf } from '../../shared/errors.js'
import { VERSION } from '../../shared/version.js'
import type { BuildImageResult } from './image-build.js'
import { elfLinkage } from './image-elf.js'
import { importRootfs } from './image-import.js'
import { inspectImage } from './image-inspect.js'
import { IMAGE_LABELS, IMAGE_PATH, sha256 } from './image-spec.js'

/** The busybox image for tests and quick starts; built from the host's static busybox. */
export const BUSYBOX_IMAGE = `safe-coder/busybox:${VERSION}`

export interface BuildBusyboxOptions {
  docker: Docker
  tag: string
  /** A statically linked busybox. Default: /bin/busybox (Debian's busybox-static). */
  busyboxPath?: string
  force?: boolean
  signal?: AbortSignal
  onProgress?: (step: string, detail?: string) => void
}

const installHint = 'apt-get install busybox-static'

/**
 * Builds a few-megabyte image from one static busybox: an applet symlink per command in /bin,
 * root and nobody accounts, world-writable /tmp and /workspace. Needs no root and no network.
 */
export async function buildBusyboxImage(options: BuildBusyboxOptions): Promise<BuildImageResult> {
  const started = performance.now()
  const { docker, tag, signal } = options
  const busyboxPath = options.busyboxPath ?? '/bin/busybox'
  const progress = options.onProgress ?? (() => undefined)
  const elapsed = (): number => Math.round(performance.now() - started)

  const binary = await readStaticBusybox(busyboxPath)
  const inputs = sha256(binary)
  const existing = await inspectImage(docker, tag)
  if (options.force !== true && existing?.labels[IMAGE_LABELS.inputs] === inputs) {
    progress('reuse', `${tag} is up to date (${existing.id.slice(7, 19)})`)
    return { tag, id: existing.id, reused: true, durationMs: elapsed(), sizeBytes: existing.size }
  }
  throwIfAborted(signal, 'Busybox image build')

  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-busybox-'))
  try {
    progress('busybox', `laying out ${busyboxPath} in ${root}`)
    await layOutBusybox(root, binary, await listApplets(busyboxPath))
    progress('import', `importing the tree into the engine as ${tag}`)
    const image = await importRootfs(docker, {
      dir: root,
      tag,
      asRoot: true,
      spec: {
        workdir: '/workspace',
        env: { PATH: IMAGE_PATH },
        cmd: ['/bin/sh'],
        labels: {
          [IMAGE_LABELS.kind]: 'busybox',
          [IMAGE_LABELS.version]: VERSION,
          [IMAGE_LABELS.inputs]: inputs,
        },
      },
      ...(signal === undefined ? {} : { signal }),
    })
    progress('done', `${tag} (${image.id.slice(7, 19)})`)
    return { tag, id: image.id, reused: false, durationMs: elapsed(), sizeBytes: image.size }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

// A dynamically linked busybox would start on the host and fail inside the libc-less image.
async function readStaticBusybox(busyboxPath: string): Promise<Buffer> {
  let binary: Buffer
  try {
    binary = await readFile(busyboxPath)
  } catch (error) {
    const reason = errnoOf(error) === 'ENOENT' ? 'it does not exist' : String(error)
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `Cannot build the busybox image from ${busyboxPath}: ${reason}.`,
      { hint: installHint, cause: error },
    )
  }
  const linkage = elfLinkage(binary)
  if (linkage.kind !== 'static') {
    const reason =
      linkage.kind === 'dynamic'
        ? `it is dynamically linked (needs ${linkage.interpreter})`
        : 'it is not an ELF executable'
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `Cannot build the busybox image from ${busyboxPath}: ${reason}.`,
      { hint: installHint },
    )
  }
  return binary
}

async function listApplets(busyboxPath: string): Promise<string[]> {
  const { stdout } = await execa(busyboxPath, ['--list'], { stdin: 'ignore' })
  return stdout
    .split('\n')
    .map((name) => name.trim())
    .filter((name) => /^[\w.[-]+$/.test(name) && name !== 'busybox')
}

async function layOutBusybox(root: string, binary: Buffer, applets: string[]): Promise<void> {
  for (const dir of ['bin', 'etc', 'root', 'usr', 'tmp', 'workspace']) {
    await mkdir(path.join(root, dir))
  }
  await writeFile(path.join(root, 'bin/busybox'), binary, { mode: 0o755 })
  for (const applet of applets) await symlink('busybox', path.join(root, 'bin', applet))
  // One directory for everything, so /usr/bin/env and /sbin/… shebangs resolve too.
  await symlink('bin', path.join(root, 'sbin'))
  await symlink('../bin', path.join(root, 'usr/bin'))
  await symlink('../bin', path.join(root, 'usr/sbin'))
  await writeFile(
    path.join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  )
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\nnobody:x:65534:\n')
  await chmod(path.join(root, 'root'), 0o700)
  await chmod(path.join(root, 'tmp'), 0o1777)
  await chmod(path.join(root, 'workspace'), 0o1777)
}
