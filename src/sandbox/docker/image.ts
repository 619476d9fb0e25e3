import type Docker from 'dockerode'
import { SafeCoderError } from '../../shared/errors.js'
import { BUSYBOX_IMAGE } from './busybox-image.js'
import { engineReason, readEngineEvents, toEngineError } from './image-engine.js'
import { inspectImage } from './image-inspect.js'
import { splitImageRef } from './image-spec.js'

export { inspectImage } from './image-inspect.js'
export type { ImageStatus } from './image-inspect.js'

export interface EnsureImageOptions {
  tag: string
  /** `[docker] auto_pull`: pull a missing image instead of failing. */
  autoPull?: boolean
  signal?: AbortSignal
  /** Pull progress: step 'pull', detail "<layer>: Downloading 12MB/40MB". */
  onProgress?: (step: string, detail?: string) => void
}

/**
 * Makes sure `tag` is in the engine before a sandbox is created from it: present is fine,
 * missing is pulled when allowed, and otherwise IMAGE_MISSING says how to build it offline.
 */
export async function ensureImage(docker: Docker, options: EnsureImageOptions): Promise<void> {
  const { tag } = options
  if ((await inspectImage(docker, tag)) !== undefined) return
  if (options.autoPull !== true) {
    throw new SafeCoderError(
      'IMAGE_MISSING',
      `Sandbox image ${tag} is not present in the Docker engine.`,
      { hint: missingImageHint(tag), data: { image: tag } },
    )
  }
  await pullImage(docker, options)
}

async function pullImage(docker: Docker, options: EnsureImageOptions): Promise<void> {
  const { tag, signal } = options
  const progress = options.onProgress ?? (() => undefined)
  progress('pull', `pulling ${tag}`)
  try {
    const stream = await docker.pull(tag, { abortSignal: signal })
    await readEngineEvents(stream, (event) => {
      const detail = [event.id, event.status, event.progress].filter((p) => p !== undefined)
      if (detail.length > 0) progress('pull', detail.join(' '))
    })
  } catch (error) {
    const failure = toEngineError(error, 'IMAGE_MISSING', `Pulling ${tag}`, signal)
    if (failure.code !== 'IMAGE_MISSING') throw failure
    throw new SafeCoderError('IMAGE_MISSING', `Cannot pull ${tag}: ${engineReason(error)}`, {
      hint: pullHint(tag),
      cause: error,
      data: { image: tag },
    })
  }
  if ((await inspectImage(docker, tag)) === undefined) {
    throw new SafeCoderError('IMAGE_MISSING', `Pulled ${tag}, but the engine does not list it.`, {
      hint: pullHint(tag),
      data: { image: tag },
    })
  }
}

type ImageFamily = 'sandbox' | 'busybox' | 'other'

// Safe Coder's own images are built locally; anything else comes from where the user got it.
function imageFamily(tag: string): ImageFamily {
  const { repo } = splitImageRef(tag)
  if (repo === splitImageRef(BUSYBOX_IMAGE).repo) return 'busybox'
  return repo === 'safe-coder/sandbox' ? 'sandbox' : 'other'
}

/** What to do about a missing image: build Safe Coder's own offline, fetch anything else. */
export function missingImageHint(tag: string): string {
  switch (imageFamily(tag)) {
    case 'sandbox':
      return 'Build it offline with `safe-coder image build` (needs debootstrap; Debian/Ubuntu), or set [docker] image to an image you have.'
    case 'busybox':
      return 'Build it offline with `safe-coder image build --busybox` (needs busybox-static), or set [docker] image to an image you have.'
    case 'other':
      return 'Pull or load it into the engine, set [docker] auto_pull = true, or build the default image offline with `safe-coder image build` and unset [docker] image.'
  }
}

function pullHint(tag: string): string {
  switch (imageFamily(tag)) {
    case 'sandbox':
      return 'Build it offline with `safe-coder image build`.'
    case 'busybox':
      return 'Build it offline with `safe-coder image build --busybox`.'
    case 'other':
      return 'Check the image name and the registry, or build the default image offline with `safe-coder image build` and unset [docker] image.'
  }
}
