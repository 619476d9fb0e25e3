import { mkdir, readdir } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import type Docker from 'dockerode'
import { execa } from 'execa'
import { SafeCoderError } from '../../shared/errors.js'
import { engineMessage } from './engine-errors.js'

/**
 * The filesystem of a container image as a plain directory, so the microVM root is the very
 * tree the container backend runs: a container is created (never started), exported as a tar
 * stream through the Engine API, unpacked by the host's `tar` as root (owners, modes, device
 * nodes, xattrs such as file capabilities kept) and removed again.
 */

export interface ImageTreeSource {
  /** The image's id (sha256:…): the tree's identity for cache keys. */
  id: string
  /** Writes the tree into `into` (an empty or missing directory). */
  export: (into: string, signal?: AbortSignal) => Promise<void>
}

/** The image's id and an exporter for it; IMAGE_MISSING when the image is not there. */
export async function imageTreeSource(docker: Docker, image: string): Promise<ImageTreeSource> {
  const info = await docker
    .getImage(image)
    .inspect()
    .catch((error: unknown) => {
      throw new SafeCoderError('IMAGE_MISSING', `Image ${image} is not available to export.`, {
        hint: 'Build it first: safe-coder image build',
        cause: error,
        data: { image },
      })
    })
  return {
    id: info.Id,
    export: (into, signal) => exportImageTree(docker, info.Id, into, { signal }),
  }
}

/** Exports `image`'s filesystem into `into`. Needs root (the tree keeps its owners). */
export async function exportImageTree(
  docker: Docker,
  image: string,
  into: string,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<void> {
  const { signal } = options
  if (process.getuid?.() !== 0) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `Exporting ${image} into a directory needs root: its files keep their owners and device nodes.`,
      { hint: 'Run the guest image build as root (sudo).' },
    )
  }
  await mkdir(into, { recursive: true })
  if ((await readdir(into)).length > 0) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `Cannot export ${image} into ${into}: not empty.`,
    )
  }
  let container: Docker.Container
  try {
    container = await docker.createContainer({
      Image: image,
      Cmd: ['/bin/true'],
      NetworkDisabled: true,
      Labels: { 'safe-coder.export': 'true', 'safe-coder.owner-pid': String(process.pid) },
    })
  } catch (error) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `Cannot create a container from ${image} to export it: ${engineMessage(error)}`,
      { cause: error },
    )
  }
  try {
    const stream = (await container.export()) as NodeJS.ReadableStream & { destroy?: () => void }
    const tar = execa(
      'tar',
      [
        '-x',
        '-f',
        '-',
        '-C',
        into,
        '--numeric-owner',
        '--same-owner',
        '--same-permissions',
        '--xattrs',
        '--xattrs-include=*',
      ],
      { reject: false, stdout: 'ignore', cancelSignal: signal },
    )
    const onAbort = (): void => stream.destroy?.()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await Promise.all([pipeline(stream, tar.stdin).catch(() => undefined), tar])
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    if (signal?.aborted === true) {
      throw new SafeCoderError('ABORTED', `Exporting ${image} was cancelled.`, {
        cause: signal.reason,
      })
    }
    const result = await tar
    if (result.exitCode !== 0) {
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `Unpacking the exported ${image} failed: ${result.stderr.trim().split('\n').slice(-3).join(' / ')}`,
        { hint: `Check free space in ${into}.` },
      )
    }
  } finally {
    await container.remove({ force: true }).catch(() => undefined)
  }
}
