import type Docker from 'dockerode'
import { execa } from 'execa'
import { SafeCoderError } from '../../shared/errors.js'
import { EngineStreamError, readEngineEvents, toEngineError } from './image-engine.js'
import { inspectImage } from './image-inspect.js'
import type { ImageStatus } from './image-inspect.js'
import { IMAGE_LABELS, imageChanges, splitImageRef } from './image-spec.js'
import type { ImageSpec } from './image-spec.js'

export interface ImportRootfsOptions {
  /** The root of the tree to import. */
  dir: string
  tag: string
  spec: ImageSpec
  /** Record every file as root:root (for trees built without root). */
  asRoot?: boolean
  signal?: AbortSignal
}

// The container runtime supplies /dev, /proc and /sys; whatever the build left there is noise.
const excluded = ['./dev/*', './proc/*', './sys/*']

/**
 * Streams a tar of `dir` into the Engine (POST /images/create?fromSrc=-) with `spec` as the
 * image configuration, checks that the labels landed, then moves `tag` onto the new image.
 * The import is untagged until tar has exited cleanly, so a truncated tree never takes the tag.
 */
export async function importRootfs(
  docker: Docker,
  options: ImportRootfsOptions,
): Promise<ImageStatus> {
  const { dir, tag, spec, signal } = options
  const what = `Importing ${dir} as ${tag}`
  const tar = execa('tar', tarArgs(dir, options.asRoot === true), {
    buffer: { stdout: false, stderr: true },
    stdin: 'ignore',
    reject: false,
    cancelSignal: signal,
  })
  let id: string
  try {
    id = await importStream(docker, tar.stdout, { spec, what, signal })
  } catch (error) {
    tar.kill()
    await tar
    throw error
  }
  const archived = await tar
  if (archived.failed || id === '') {
    if (id !== '') await removeQuietly(docker, id)
    if (signal?.aborted === true) throw new SafeCoderError('ABORTED', `${what} was cancelled.`)
    const reason = archived.failed
      ? `tar failed: ${archived.stderr.trim() || archived.shortMessage}`
      : 'the engine did not report an image id'
    throw new SafeCoderError('IMAGE_BUILD_FAILED', `${what} failed: ${reason}`)
  }
  return tagImport(docker, id, options)
}

/**
 * Streams a tar into the Engine as a new, untagged image with `spec` as its configuration; its
 * id, or '' when the engine reported none.
 */
export async function importStream(
  docker: Docker,
  source: NodeJS.ReadableStream,
  options: { spec: ImageSpec; what: string; signal?: AbortSignal | undefined },
): Promise<string> {
  const { what, signal } = options
  try {
    const response = await docker.importImage(source, {
      changes: imageChanges(options.spec),
      abortSignal: signal,
    })
    const events = await readEngineEvents(response)
    return events.findLast((e) => e.status?.startsWith('sha256:') === true)?.status ?? ''
  } catch (error) {
    throw error instanceof EngineStreamError
      ? new SafeCoderError('IMAGE_BUILD_FAILED', `${what} failed: ${error.message}`)
      : toEngineError(error, 'IMAGE_BUILD_FAILED', what, signal)
  }
}

// --numeric-owner: the guest's uids are what count, not the host's names for them.
function tarArgs(dir: string, asRoot: boolean): string[] {
  const ownership = asRoot ? ['--owner=0', '--group=0'] : []
  const exclusions = excluded.map((pattern) => `--exclude=${pattern}`)
  return ['--numeric-owner', ...ownership, ...exclusions, '-C', dir, '-cf', '-', '.']
}

// Verify before tagging: an engine that silently ignores `changes` would defeat the cache check.
export async function tagImport(
  docker: Docker,
  id: string,
  { tag, spec, signal }: { tag: string; spec: ImageSpec; signal?: AbortSignal | undefined },
): Promise<ImageStatus> {
  const what = `Tagging ${id} as ${tag}`
  try {
    const imported = await inspectImage(docker, id)
    const missing = Object.entries(spec.labels).filter(([k, v]) => imported?.labels[k] !== v)
    if (imported === undefined || missing.length > 0) {
      await removeQuietly(docker, id)
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `The Docker engine dropped the image configuration of ${tag} (labels ${missing.map(([k]) => k).join(', ')}).`,
        { hint: 'Use Docker Engine 20.10 or newer, or Podman 4 or newer.' },
      )
    }
    const previous = await inspectImage(docker, tag)
    await docker.getImage(id).tag({ ...splitImageRef(tag), abortSignal: signal })
    if (previous !== undefined && previous.id !== id) await removeReplaced(docker, previous.id)
    return (await inspectImage(docker, tag)) ?? imported
  } catch (error) {
    throw toEngineError(error, 'IMAGE_BUILD_FAILED', what, signal)
  }
}

// A rebuilt image leaves its predecessor untagged; drop it if it is ours and nothing uses it.
async function removeReplaced(docker: Docker, id: string): Promise<void> {
  const old = await inspectImage(docker, id)
  if (old?.labels[IMAGE_LABELS.kind] === undefined || old.repoTags.length > 0) return
  await removeQuietly(docker, id)
}

async function removeQuietly(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getImage(id).remove()
  } catch {
    // Still in use by a container, or already gone: either way it is not ours to force.
  }
}
