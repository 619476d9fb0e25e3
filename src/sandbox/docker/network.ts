import type Docker from 'dockerode'
import type { NetworkCreateOptions } from 'dockerode'
import { SafeCoderError } from '../../shared/errors.js'
import type { SandboxSpec } from '../types.js'
import { engineMessage, statusOf } from './engine-errors.js'
import { ownerOf, sandboxLabels } from './labels.js'
import type { DockerBackendOptions } from './options.js'
import { assertPolicyReadable, locateProxy, type ProxyAssets } from './proxy-assets.js'
import { isWallError, proveNetworkWall, WALL_SYSCTLS } from './network-proof.js'
import { ensureProxyImage } from './proxy-image.js'
import { removeSessionResources } from './session-resources.js'
import { PROXY_ALIAS, PROXY_PORT, startSidecar, type RunningSidecar } from './sidecar.js'

/** How the sandbox container joins the network its session asked for. */
export interface ContainerNetwork {
  /** HostConfig.NetworkMode: `none`, or the name of the one network it joins. */
  mode: string
  /** Added to the container's environment and every exec's (the proxy variables). */
  env: Record<string, string>
  /** The upstream of Docker's embedded DNS, and resolver options; see `prepareNetwork`. */
  dns?: string[]
  dnsOptions?: string[]
  /** `egress:ADDRESS`: the proxy's name without any DNS (Podman's internal networks have none). */
  extraHosts?: string[]
  /** Kernel settings the network proof ran with (`WALL_SYSCTLS`). */
  sysctls?: Readonly<Record<string, string>>
}

export const NO_NETWORK: ContainerNetwork = { mode: 'none', env: {} }

/** A session's networks (and proxy), removed by `release`: idempotent, safe after a failure. */
export interface SessionNetwork {
  container: ContainerNetwork
  release(): Promise<void>
}

/** Names of a session's network objects; they carry its labels too, which is what gc uses. */
export function networkNames(
  sessionId: string,
): Record<'internal' | 'egress' | 'open' | 'proxy' | 'proof', string> {
  const base = `safe-coder-${sessionId}`
  return {
    internal: `${base}-in`,
    egress: `${base}-out`,
    open: `${base}-net`,
    proxy: `${base}-egress`,
    proof: `${base}-proof`,
  }
}

export const PROXY_URL = `http://${PROXY_ALIAS}:${PROXY_PORT}`

/** What tools need to find the proxy; loopback stays direct. */
export const PROXY_ENV: Readonly<Record<string, string>> = {
  HTTP_PROXY: PROXY_URL,
  HTTPS_PROXY: PROXY_URL,
  http_proxy: PROXY_URL,
  https_proxy: PROXY_URL,
  NO_PROXY: 'localhost,127.0.0.1',
  no_proxy: 'localhost,127.0.0.1',
}

export interface PrepareOptions {
  signal?: AbortSignal | undefined
  /** How long the proxy may take to say it is ready. */
  readyMs?: number
  /** For tests: the proxy's files, instead of this package's dist/ (the proof keeps those). */
  assets?: ProxyAssets
}

/**
 * Sets up the session's network before its sandbox is created.
 * - `none` (or no network): nothing; the sandbox gets `NetworkMode: none`.
 * - `open`: a bridge network of its own, with a route out. Unrestricted, as documented.
 * - `allowlist`: an internal network (no route out; on Docker its bridge gets no host address,
 *   so the host is unreachable too) shared only with a proxy container, which also sits on an
 *   egress bridge. Before the sandbox joins it, `proveNetworkWall` tries every way out from
 *   inside it; an engine whose internal network reaches the host (Podman 4 with netavark) is
 *   refused. The sandbox's embedded DNS forwards to the proxy's address, where nothing
 *   answers: only container names resolve (engines before 26 would otherwise forward internal
 *   networks' queries from the host, CVE-2024-29018); the proxy's own name is in /etc/hosts.
 */
export async function prepareNetwork(
  docker: Docker,
  spec: SandboxSpec,
  options: DockerBackendOptions,
  extra: PrepareOptions = {},
): Promise<SessionNetwork> {
  const mode = spec.network?.policy.mode ?? 'none'
  if (mode === 'none' || spec.network === undefined) {
    return { container: NO_NETWORK, release: () => Promise.resolve() }
  }
  const network = spec.network
  const owner = ownerOf(sandboxLabels(spec))
  const names = networkNames(spec.sessionId)
  let sidecar: RunningSidecar | undefined
  let released: Promise<void> | undefined
  const release = (): Promise<void> => {
    sidecar?.detach()
    released ??= removeSessionResources(docker, owner)
    return released
  }
  const labels = sandboxLabels(spec, Date.now(), 'network')
  try {
    if (mode === 'open') {
      await createNetwork(docker, { Name: names.open, Labels: labels }, extra.signal)
      return { container: { mode: names.open, env: {} }, release }
    }
    const ours = await locateProxy()
    const assets = extra.assets ?? ours
    await assertPolicyReadable(network.policyFile)
    // Never the [docker] image: the proxy holds the session's only way out.
    const proxyImage = await ensureProxyImage(docker, { signal: extra.signal })
    await Promise.all([
      createNetwork(
        docker,
        {
          Name: names.internal,
          Internal: true,
          Labels: labels,
          // Docker gives the bridge a host address otherwise, reachable from inside. Podman
          // rejects the option; whether its bridge reaches the host is the proof's question.
          ...(options.kind === 'docker'
            ? { Options: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } }
            : {}),
        },
        extra.signal,
      ),
      createNetwork(docker, { Name: names.egress, Labels: labels }, extra.signal),
    ])
    // The proof runs beside the proxy's start; both settle before anything is released.
    const [started, proved] = await Promise.allSettled([
      startSidecar(
        docker,
        {
          name: names.proxy,
          image: proxyImage,
          labels: sandboxLabels(spec, Date.now(), 'egress-proxy'),
          assets,
          policyFile: network.policyFile,
          internalNetwork: names.internal,
          egressNetwork: names.egress,
          cpus: options.cpus,
          runtime: options.runtime,
        },
        {
          readyMs: extra.readyMs ?? 15_000,
          ...(network.onEvent === undefined ? {} : { onEvent: network.onEvent }),
          ...(extra.signal === undefined ? {} : { signal: extra.signal }),
        },
      ).catch((error: unknown) => {
        throw proxyError(error)
      }),
      proveNetworkWall(docker, {
        name: names.proof,
        image: proxyImage,
        labels: sandboxLabels(spec, Date.now(), 'network-proof'),
        assets: ours,
        network: names.internal,
        kind: options.kind,
      }),
    ])
    if (started.status === 'fulfilled') sidecar = started.value
    // A wall with a hole outranks every other failure: it is why the session cannot start.
    if (proved.status === 'rejected' && isWallError(proved.reason)) throw proved.reason
    if (started.status === 'rejected') throw started.reason
    if (proved.status === 'rejected') throw proved.reason
    sidecar = started.value
    if (sidecar.address === '') throw proxyError(new Error('it has no address on the network'))
    extra.signal?.throwIfAborted()
    return {
      container: {
        mode: names.internal,
        env: { ...PROXY_ENV },
        dns: [sidecar.address],
        // Engines before 26 drop a query they cannot forward: fail in about 2 s, not 20.
        dnsOptions: ['timeout:1', 'attempts:1'],
        extraHosts: [`${PROXY_ALIAS}:${sidecar.address}`],
        sysctls: WALL_SYSCTLS,
      },
      release,
    }
  } catch (error) {
    await release().catch(() => undefined)
    if (extra.signal?.aborted === true) {
      throw new SafeCoderError('ABORTED', 'Creating the sandbox was cancelled.')
    }
    throw error
  }
}

async function createNetwork(
  docker: Docker,
  create: NetworkCreateOptions,
  signal: AbortSignal | undefined,
): Promise<void> {
  signal?.throwIfAborted()
  try {
    await docker.createNetwork({ CheckDuplicate: true, Driver: 'bridge', ...create })
  } catch (error) {
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot create the network ${create.Name}: ${engineMessage(error)}.`,
      {
        hint:
          statusOf(error) === 409
            ? 'An earlier run of this session left it behind: `safe-coder gc` removes it.'
            : 'Check that the engine can create bridge networks (`docker network create test`); too many networks can exhaust its address pools (`docker network prune`).',
        cause: error,
        data: { network: create.Name },
      },
    )
  }
}

function proxyError(error: unknown): SafeCoderError {
  if (error instanceof SafeCoderError) return error
  return new SafeCoderError(
    'SANDBOX_FAILED',
    `Cannot start the egress proxy container: ${engineMessage(error)}.`,
    {
      hint: 'Check that the engine is healthy (`docker info`).',
      cause: error,
    },
  )
}
