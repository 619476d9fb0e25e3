import type Docker from 'dockerode'
import { statusOf } from './engine-errors.js'
import { toEngineError } from './image-engine.js'

/** What `doctor` and the cache check need to know about an image in the engine. */
export interface ImageStatus {
  /** `sha256:…` */
  id: string
  /** The reference it was looked up by. */
  tag: string
  /** Every tag the engine has for this image. */
  repoTags: string[]
  /** ISO 8601, as the engine reports it. */
  created: string
  /** Bytes, as the engine reports them (uncompressed). */
  size: number
  labels: Record<string, string>
}

// Absence is an answer, not a failure: only a broken engine rejects.
export async function inspectImage(docker: Docker, tag: string): Promise<ImageStatus | undefined> {
  try {
    const info = await docker.getImage(tag).inspect()
    return {
      id: info.Id,
      tag,
      repoTags: info.RepoTags,
      created: info.Created,
      size: info.Size,
      // The engine sends null when an image has no labels; spreading null gives {}.
      labels: { ...info.Config.Labels },
    }
  } catch (error) {
    if (statusOf(error) === 404) return undefined
    throw toEngineError(error, 'BACKEND_UNAVAILABLE', `Inspecting image ${tag}`)
  }
}
