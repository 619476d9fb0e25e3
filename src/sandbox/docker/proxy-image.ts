import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type Docker from 'dockerode'
import type { ImageInspectInfo } from 'dockerode'
import { SafeCoderError } from '../../shared/errors.js'
import { VERSION } from '../../shared/version.js'
import { statusOf } from './engine-errors.js'
import { toEngineError } from './image-engine.js'
import { importStream, tagImport } from './image-import.js'
import { IMAGE_LABELS, type ImageSpec } from './image-spec.js'
import { tarArchive } from './tar-archive.js'

/** The name Safe Coder gives its proxy image; only ever a way to find it, never trusted. */
export const PROXY_IMAGE = `safe-coder/egress-proxy:${VERSION}`

/**
 * Every variable the containers of Safe Coder's helpers (proxy, network proof) set. An image variable not among them would reach the
 * proxy (a container's Env only adds to its image's), so a candidate image may set no other.
 */
export const PROXY_ENV_KEYS = [
  'PATH',
  'HOME',
  'LD_LIBRARY_PATH',
  'SAFE_CODER_POLICY_FILE',
  'SAFE_CODER_PROXY_PORT',
  'SAFE_CODER_WALL_TARGETS',
] as const

const SPEC: ImageSpec = {
  workdir: '/tmp',
  env: {},
  cmd: ['/opt/safe-coder/node'],
  labels: { [IMAGE_LABELS.kind]: 'egress-proxy', [IMAGE_LABELS.version]: VERSION },
}

/**
 * The image's only layer: accounts for root and nobody, a resolver order, the folders the proxy's
 * mounts land in, and /tmp. No program, no library: the proxy's Node and everything it loads are
 * the host's, mounted read-only, so nothing in the image can run.
 */
export const PROXY_LAYER = tarArchive([
  { type: 'dir', path: 'etc', mode: 0o755 },
  { type: 'file', path: 'etc/group', mode: 0o644, content: 'root:x:0:\nnogroup:x:65534:\n' },
  { type: 'file', path: 'etc/nsswitch.conf', mode: 0o644, content: 'hosts: files dns\n' },
  {
    type: 'file',
    path: 'etc/passwd',
    mode: 0o644,
    content: 'root:x:0:0:root:/root:/nonexistent\nnobody:x:65534:65534:nobody:/tmp:/nonexistent\n',
  },
  { type: 'dir', path: 'opt', mode: 0o755 },
  { type: 'dir', path: 'opt/safe-coder', mode: 0o755 },
  { type: 'dir', path: 'opt/safe-coder/lib', mode: 0o755 },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
])

/** The layer digest an image made from PROXY_LAYER has (sha256 of the uncompressed tar). */
export const PROXY_LAYER_DIGEST = `sha256:${createHash('sha256').update(PROXY_LAYER).digest('hex')}`

/**
 * Why an image is not Safe Coder's proxy image, or undefined when it is: exactly our one layer,
 * and no configuration that would reach into the container (environment, health check,
 * volumes). Its name proves nothing: anyone with access to the engine can tag any image.
 */
export function whyNotProxyImage(info: ImageInspectInfo): string | undefined {
  // The engine sends null where dockerode's types promise arrays (an image with no Env).
  const config = info.Config as Partial<Record<'Env', string[] | null>> & {
    Volumes?: Record<string, unknown> | null
    Healthcheck?: { Test?: string[] } | null
  }
  const layers = (info.RootFS.Layers as string[] | null | undefined) ?? []
  if (layers.length !== 1 || layers[0] !== PROXY_LAYER_DIGEST) {
    return `its layers are not Safe Coder's (${layers.length} layer(s))`
  }
  const allowed: readonly string[] = PROXY_ENV_KEYS
  const foreign = (config.Env ?? []).filter((v) => !allowed.includes(v.split('=')[0] ?? ''))
  if (foreign.length > 0) return `it sets environment variables (${foreign.join(', ')})`
  const test = config.Healthcheck?.Test ?? []
  if (test.length > 0 && test[0] !== 'NONE') return 'it has a health check'
  if (Object.keys(config.Volumes ?? {}).length > 0) return 'it declares volumes'
  return undefined
}

/**
 * The id of Safe Coder's proxy image in this engine: the one tagged PROXY_IMAGE when it passes
 * `whyNotProxyImage`, else a fresh import of PROXY_LAYER (a few kilobytes, offline), checked the
 * same way and then tagged. Containers are created from the id, which names the content, so
 * nothing can re-point it between this check and their creation.
 */
export async function ensureProxyImage(
  docker: Docker,
  options: { tag?: string; signal?: AbortSignal | undefined } = {},
): Promise<string> {
  const tag = options.tag ?? PROXY_IMAGE
  const { signal } = options
  const tagged = await inspect(docker, tag)
  if (tagged !== undefined && whyNotProxyImage(tagged) === undefined) return tagged.Id
  const what = `Importing the egress proxy image ${tag}`
  const id = await importStream(docker, Readable.from([PROXY_LAYER]), { spec: SPEC, what, signal })
  const imported = id === '' ? undefined : await inspect(docker, id)
  const why = imported === undefined ? 'the engine reported no image' : whyNotProxyImage(imported)
  if (imported === undefined || why !== undefined) {
    throw new SafeCoderError('IMAGE_BUILD_FAILED', `${what} failed: ${why ?? 'unknown'}.`, {
      hint: 'Use Docker Engine 20.10 or newer, or Podman 4 or newer; `safe-coder doctor` shows the engine.',
    })
  }
  await tagImport(docker, imported.Id, { tag, spec: SPEC, signal })
  return imported.Id
}

async function inspect(docker: Docker, ref: string): Promise<ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(ref).inspect()
  } catch (error) {
    if (statusOf(error) === 404) return undefined
    throw toEngineError(error, 'BACKEND_UNAVAILABLE', `Inspecting image ${ref}`)
  }
}
