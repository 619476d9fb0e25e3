import { stat } from 'node:fs/promises'
import type Docker from 'dockerode'
import { SafeCoderError } from '../../shared/errors.js'
import { canMountDisks } from '../disk/index.js'
import type {
  DiskLimits,
  ImageInfo,
  ProbeResult,
  Sandbox,
  SandboxBackend,
  SandboxInfo,
  SandboxSpec,
} from '../types.js'
import { buildContainerSpec, hostUser, sandboxEnv } from './container-spec.js'
import { ContainerAgent, locateAgent, type AgentAssets } from './container-agent.js'
import { DockerSandbox } from './docker-sandbox.js'
import { IMAGE_LABELS } from './image-spec.js'
import { engineMessage, sandboxError, statusOf } from './engine-errors.js'
import { ensureImage, inspectImage, missingImageHint } from './image.js'
import { LABEL, ownerKey, ownerOf } from './labels.js'
import { prepareNetwork } from './network.js'
import { removeSessionResources } from './session-resources.js'
import { dockerDiskLimits, mirrorDiskMib } from './disk-limits.js'
import { DOCKER_DISK_KEY, type DockerBackendOptions } from './options.js'
import { probeEngine } from './probe.js'
import { createBounded, rootLayerFor, type RootLayer } from './root-layer.js'

/** Sandboxes as containers on a Docker-API engine (Docker, or Podman's compatible socket). */
export class DockerBackend implements SandboxBackend {
  readonly kind: 'docker' | 'podman'
  private probed: Promise<{ result: ProbeResult; docker?: Docker }> | undefined
  #root: Promise<RootLayer> | undefined

  constructor(private readonly options: DockerBackendOptions) {
    this.kind = options.kind
  }

  async probe(signal?: AbortSignal): Promise<ProbeResult> {
    this.probed = probeEngine(this.options, signal)
    return (await this.probed).result
  }

  /** The endpoint of the engine that answered (probing first when needed). */
  async engine(signal?: AbortSignal): Promise<string> {
    await this.client(signal)
    const endpoint = (await this.probed)?.result.details.endpoint
    return typeof endpoint === 'string' ? endpoint : ''
  }

  /** The connected client; BACKEND_UNAVAILABLE with the probe's reason when there is none. */
  async client(signal?: AbortSignal): Promise<Docker> {
    this.probed ??= probeEngine(this.options, signal)
    const { result, docker } = await this.probed
    if (docker !== undefined) return docker
    this.probed = undefined
    const name = this.kind === 'podman' ? 'Podman' : 'Docker'
    throw new SafeCoderError(
      'BACKEND_UNAVAILABLE',
      `${name} sandbox unavailable: ${result.reason ?? 'no engine answered'}.`,
      {
        hint: result.hint,
        data: result.details,
      },
    )
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    const docker = await this.client(signal)
    await assertMirror(spec.mirrorDir)
    await ensureImage(docker, {
      tag: this.options.image,
      autoPull: this.options.autoPull,
      signal,
      ...(spec.onProgress === undefined ? {} : { onProgress: spec.onProgress }),
    })
    signal?.throwIfAborted()
    const agent = await this.agentAssets(docker)
    const network = await prepareNetwork(docker, spec, this.options, { signal })
    let container: Docker.Container
    let root: RootLayer
    try {
      const extras = { network: network.container, agent }
      ;({ container, root } = await createBounded(
        docker,
        await this.rootLayer(signal),
        (layer) => buildContainerSpec(spec, this.options, { ...extras, root: layer }),
        () => {
          this.#root = Promise.resolve('read-only')
        },
      ))
    } catch (error) {
      await network.release().catch(() => undefined)
      throw createError(this.options, error)
    }
    try {
      await container.start()
      signal?.throwIfAborted()
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined)
      await network.release().catch(() => undefined)
      if (signal?.aborted === true)
        throw new SafeCoderError('ABORTED', 'Creating the sandbox was cancelled.')
      throw createError(this.options, error)
    }
    const user = spec.user ?? hostUser()
    const env = sandboxEnv(spec, network.container)
    const disk = await dockerDiskLimits(this.options, root, {
      mib: await mirrorDiskMib(spec.mirrorDir),
    })
    return new DockerSandbox(
      this.kind,
      container,
      `${user.uid}:${user.gid}`,
      env,
      () => network.release(),
      agent === undefined
        ? undefined
        : new ContainerAgent(container, `${user.uid}:${user.gid}`, env),
      disk,
    )
  }

  /** How the engine can bound a container's own file system, from its storage driver. */
  private rootLayer(signal?: AbortSignal): Promise<RootLayer> {
    this.#root ??= this.storage(signal).then((s) => rootLayerFor(s.driver, s.backingFs))
    return this.#root
  }

  /** The engine's storage driver and the file system under it, as `docker info` says. */
  protected async storage(
    signal?: AbortSignal,
  ): Promise<{ driver: string | undefined; backingFs: string | undefined }> {
    this.probed ??= probeEngine(this.options, signal)
    const { details } = (await this.probed).result
    return {
      driver: stringOr(details.storageDriver),
      backingFs: stringOr(details.backingFilesystem),
    }
  }

  /** What sandboxes made here may store and how that is enforced (for `doctor`). */
  async diskLimits(signal?: AbortSignal): Promise<DiskLimits> {
    return dockerDiskLimits(this.options, await this.rootLayer(signal))
  }

  /** As root a new session's mirror goes on a fixed-size disk; otherwise it cannot. */
  async workspaceDisk(): Promise<{ sizeMib: number; key: string } | undefined> {
    if (!(await canMountDisks())) return undefined
    return { sizeMib: this.options.diskMb, key: DOCKER_DISK_KEY }
  }

  /**
   * The agent runs in Safe Coder's own image (it runs the host's Node, which needs glibc);
   * other images, `[docker] agent = "off"` and installs without a built agent use Engine exec.
   */
  private async agentAssets(docker: Docker): Promise<AgentAssets | undefined> {
    if (this.options.agent === 'off') return undefined
    const image = await inspectImage(docker, this.options.image)
    if (image?.labels[IMAGE_LABELS.kind] !== 'sandbox') return undefined
    return locateAgent()
  }

  /**
   * Sandbox containers, one entry each. A session's proxy and networks are not sandboxes: they
   * go with theirs (see `remove`), and appear here only when a crash left them without one.
   */
  async list(signal?: AbortSignal): Promise<SandboxInfo[]> {
    const docker = await this.client(signal)
    const [containers, networks] = await Promise.all([
      docker.listContainers({ all: true, filters: { label: [LABEL.session] } }),
      docker.listNetworks({ filters: { label: [LABEL.session] } }),
    ])
    const info = (
      id: string,
      labels: Record<string, string>,
      createdAt: number,
      state: string,
    ) => ({
      id,
      kind: this.kind,
      ...ownerOf(labels),
      createdAt,
      projectPath: labels[LABEL.path] ?? '',
      state,
    })
    const sandboxes = containers.filter((c) => (c.Labels[LABEL.role] ?? 'sandbox') === 'sandbox')
    const owners = new Set(sandboxes.map((c) => ownerKey(ownerOf(c.Labels))))
    const found: SandboxInfo[] = sandboxes.map((c) =>
      info(c.Id, c.Labels, c.Created * 1000, c.State),
    )
    const leftovers = [
      ...containers
        .filter((c) => c.Labels[LABEL.role] !== undefined && c.Labels[LABEL.role] !== 'sandbox')
        .map((c) =>
          info(
            c.Id,
            c.Labels,
            c.Created * 1000,
            `${c.Labels[LABEL.role] === 'network-proof' ? 'network proof' : 'egress proxy'} without its sandbox (${c.State})`,
          ),
        ),
      ...networks.map((n) =>
        info(
          n.Id,
          n.Labels ?? {},
          Date.parse(n.Created) || 0,
          `network ${n.Name} without its sandbox`,
        ),
      ),
    ]
    for (const leftover of leftovers) {
      const key = ownerKey(leftover)
      if (owners.has(key)) continue
      owners.add(key)
      found.push(leftover)
    }
    return found
  }

  async imageStatus(signal?: AbortSignal): Promise<ImageInfo> {
    const docker = await this.client(signal)
    const image = this.options.image
    const status = await inspectImage(docker, image)
    if (status === undefined) return { image, present: false, hint: missingImageHint(image) }
    return {
      image,
      present: true,
      id: status.id,
      sizeBytes: status.size,
      created: status.created,
      labels: status.labels,
    }
  }

  /** Removes a sandbox with its proxy and networks (or what a crash left of them: see list). */
  async remove(id: string, signal?: AbortSignal): Promise<void> {
    const docker = await this.client(signal)
    const labels = await labelsOf(docker, id)
    if (labels === undefined) return
    try {
      if (labels.kind === 'container')
        await docker.getContainer(id).remove({ force: true, v: true })
    } catch (error) {
      if (statusOf(error) !== 404) throw sandboxError(id, 'removing the container', error)
    }
    await removeSessionResources(docker, ownerOf(labels.labels))
  }
}

/** A container's or network's labels, and which it is; undefined when neither exists. */
async function labelsOf(
  docker: Docker,
  id: string,
): Promise<{ labels: Record<string, string>; kind: 'container' | 'network' } | undefined> {
  const gone = (error: unknown): undefined => {
    if (statusOf(error) === 404) return undefined
    throw sandboxError(id, 'inspecting it', error)
  }
  const container = await docker.getContainer(id).inspect().catch(gone)
  if (container !== undefined) return { labels: container.Config.Labels, kind: 'container' }
  const network = await docker.getNetwork(id).inspect().catch(gone)
  return network === undefined ? undefined : { labels: network.Labels ?? {}, kind: 'network' }
}

/** The mirror must be an existing host directory; a typo here would bind-mount nothing useful. */
async function assertMirror(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (info?.isDirectory() !== true) {
    throw new SafeCoderError('NOT_FOUND', `Workspace mirror ${dir} is not a directory.`, {
      hint: 'The session directory was removed or never created; start a new session.',
      data: { path: dir },
    })
  }
}

function createError(options: DockerBackendOptions, error: unknown): SafeCoderError {
  const message = engineMessage(error)
  if (options.runtime !== undefined && /runtime/i.test(message)) {
    return new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot create the sandbox with runtime "${options.runtime}": ${message}.`,
      {
        hint: "Install and register that runtime with the engine (e.g. gVisor's runsc), or remove [docker] runtime from your configuration.",
        cause: error,
      },
    )
  }
  return new SafeCoderError('SANDBOX_FAILED', `Cannot create the sandbox container: ${message}.`, {
    hint: 'Check the [docker] limits in your configuration and that the engine is healthy (`docker info`).',
    cause: error,
  })
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}
