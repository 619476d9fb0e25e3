import type { ContainerCreateOptions, MountSettings } from 'dockerode'
import { LIBRARY_DIR_IN } from './host-node.js'
import { DIST_IN, NODE_IN, proxyMounts, type ProxyAssets } from './proxy-assets.js'
import type { PROXY_ENV_KEYS } from './proxy-image.js'

export interface HelperInput {
  name: string
  /** The id of Safe Coder's proxy image (from `ensureProxyImage`), never a name. */
  image: string
  labels: Record<string, string>
  assets: ProxyAssets
  /** A module under dist/, run by the host's Node: `network/proxy-main.js`. */
  main: string
  /** SAFE_CODER_* settings for it; the rest of the environment is fixed here. */
  env: Partial<Record<(typeof PROXY_ENV_KEYS)[number], string>>
  network: string
  mounts?: MountSettings[]
  cpus: number
  memoryMb: number
  runtime?: string | undefined
}

/**
 * A container that runs one of Safe Coder's own Node programs (the egress proxy, the network
 * proof) from Safe Coder's image, with the host's Node, every file read-only, and an environment
 * set here in full: the image sets none (`whyNotProxyImage`), so nothing but these reaches it.
 * Hardened like the sandbox: no capabilities, no new privileges, read-only root, nobody.
 */
export function buildHelperSpec(input: HelperInput): ContainerCreateOptions {
  const env = {
    PATH: '/opt/safe-coder',
    HOME: '/tmp',
    LD_LIBRARY_PATH: LIBRARY_DIR_IN,
    ...input.env,
  }
  return {
    name: input.name,
    Image: input.image,
    Entrypoint: [NODE_IN],
    Cmd: [`${DIST_IN}/${input.main}`],
    User: '65534:65534',
    WorkingDir: '/tmp',
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: input.labels,
    Healthcheck: { Test: ['NONE'] },
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: {
      Mounts: [...proxyMounts(input.assets), ...(input.mounts ?? [])],
      NetworkMode: input.network,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      Init: true,
      IpcMode: 'private',
      PidsLimit: 64,
      Memory: input.memoryMb * 1024 * 1024,
      MemorySwap: input.memoryMb * 1024 * 1024,
      NanoCpus: Math.round(input.cpus * 1e9),
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,nosuid,nodev,noexec,size=16m,mode=1777' },
      // Output is read from the attach stream; the log is only for `docker logs`, kept small.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
      ...(input.runtime === undefined ? {} : { Runtime: input.runtime }),
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
    },
  }
}
