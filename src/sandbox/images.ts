import path from 'node:path'
import type { Config } from '../config/schema.js'
import { SANDBOX_IMAGE } from '../shared/version.js'
import { checkXdgDir } from '../shared/xdg.js'
import { DockerBackend } from './docker/backend.js'
import { BUSYBOX_IMAGE, buildBusyboxImage } from './docker/busybox-image.js'
import { buildSandboxImage, type BuildImageResult } from './docker/image-build.js'
import { imageTreeSource } from './docker/image-export.js'
import { defaultDistDir } from './docker/dist-dir.js'
import { dockerBackendOptions } from './index.js'
import {
  buildGuestImage,
  defaultGuestImageCacheDir,
  type BuiltGuestImage,
} from './microvm/image/index.js'

export type { BuildImageResult }
export { BUSYBOX_IMAGE }

export interface BuildImageRequest {
  /** 'sandbox': the Debian image from [image]; 'busybox': the tiny test image. */
  flavor: 'sandbox' | 'busybox'
  /** Default: [docker] image for 'sandbox', BUSYBOX_IMAGE for 'busybox'. */
  tag?: string
  force?: boolean
  signal?: AbortSignal
  onProgress?: (step: string, detail?: string) => void
  command?: string
}

/** Builds a sandbox image offline into the Docker-API engine the configuration points at. */
export async function buildImage(
  config: Config,
  request: BuildImageRequest,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BuildImageResult> {
  const kind = config.isolation.backend === 'podman' ? 'podman' : 'docker'
  const backend = new DockerBackend(dockerBackendOptions(kind, config, env))
  const docker = await backend.client(request.signal)
  const common = {
    docker,
    ...(request.force === undefined ? {} : { force: request.force }),
    ...(request.signal === undefined ? {} : { signal: request.signal }),
  }
  if (request.flavor === 'busybox') {
    return buildBusyboxImage({ ...common, tag: request.tag ?? BUSYBOX_IMAGE })
  }
  return buildSandboxImage({
    ...common,
    tag: request.tag ?? (config.docker.image === '' ? SANDBOX_IMAGE : config.docker.image),
    suite: config.image.suite,
    mirror: config.image.mirror,
    packages: config.image.packages,
    ...(request.onProgress === undefined ? {} : { onProgress: request.onProgress }),
    ...(request.command === undefined ? {} : { command: request.command }),
  })
}

/**
 * Builds the microVM guest image from the sandbox image's tree (built first when missing or
 * stale), so containers and VMs run the same Debian system. Cached by its inputs.
 */
export async function buildVmImage(
  config: Config,
  request: Omit<BuildImageRequest, 'flavor'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BuiltGuestImage & { durationMs: number }> {
  const started = Date.now()
  // Checked before the long sandbox image build, which it would otherwise fail after.
  const cacheDir =
    config.vm.image_dir ??
    (await checkXdgDir(env, 'XDG_CACHE_HOME', defaultGuestImageCacheDir(env)))
  const tag = request.tag ?? (config.docker.image === '' ? SANDBOX_IMAGE : config.docker.image)
  await buildImage(config, { ...request, tag, flavor: 'sandbox', force: false }, env)
  const kind = config.isolation.backend === 'podman' ? 'podman' : 'docker'
  const docker = await new DockerBackend(dockerBackendOptions(kind, config, env)).client(
    request.signal,
  )
  const image = await buildGuestImage({
    cacheDir,
    tree: await imageTreeSource(docker, tag),
    agentDir: path.join(defaultDistDir(), 'guest'),
    ...(request.force === undefined ? {} : { force: request.force }),
    ...(request.signal === undefined ? {} : { signal: request.signal }),
    ...(request.onProgress === undefined ? {} : { onProgress: request.onProgress }),
  })
  return { ...image, durationMs: Date.now() - started }
}
