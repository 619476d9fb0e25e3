import type { ContainerCreateOptions } from 'dockerode'
import { WORKSPACE, type SandboxSpec } from '../types.js'
import { agentMounts, type AgentAssets } from './container-agent.js'
import { sandboxLabels } from './labels.js'
import { NO_NETWORK, type ContainerNetwork } from './network.js'
import type { DockerBackendOptions } from './options.js'
import { WRITABLE_PATHS, type RootLayer } from './root-layer.js'

/**
 * The main process: idles until told to stop. `sleep & wait` lets the TERM trap fire at once,
 * so `docker stop` does not wait out its grace period.
 */
export const IDLE_COMMAND = [
  '/bin/sh',
  '-c',
  'trap "exit 0" TERM INT; while :; do sleep 86400 & wait $!; done',
]

/**
 * The container's whole security posture in one place: what `create` asks the engine for.
 * `root` is how its own file system is bounded (see root-layer.ts); `[docker] read_only_root`
 * makes it read-only whatever the engine could do.
 */
export function buildContainerSpec(
  spec: SandboxSpec,
  options: DockerBackendOptions,
  extras: { network?: ContainerNetwork; agent?: AgentAssets | undefined; root?: RootLayer } = {},
): ContainerCreateOptions {
  const { network = NO_NETWORK, agent, root = 'read-only' } = extras
  const user = spec.user ?? hostUser()
  const env = sandboxEnv(spec, network)
  const isolated = network.mode === 'none'
  const readOnly = options.readOnlyRoot || root === 'read-only'
  const tmpfs = (path: string): [string, string] => [
    path,
    `rw,nosuid,nodev,size=${options.tmpSizeMb}m,mode=1777`,
  ]
  return {
    name: `safe-coder-${spec.sessionId}`,
    Image: options.image,
    Cmd: IDLE_COMMAND,
    User: `${user.uid}:${user.gid}`,
    WorkingDir: WORKSPACE,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: sandboxLabels(spec),
    ...(isolated ? { NetworkDisabled: true } : {}),
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    HostConfig: {
      // Mounts (not Binds): a mirror path containing ':' or ',' cannot be misparsed.
      Mounts: [
        { Type: 'bind', Source: spec.mirrorDir, Target: WORKSPACE, ReadOnly: false },
        ...(agent === undefined ? [] : agentMounts(agent)),
      ],
      NetworkMode: network.mode,
      ...(network.dns === undefined ? {} : { Dns: network.dns }),
      ...(network.dnsOptions === undefined ? {} : { DnsOptions: network.dnsOptions }),
      ...(network.extraHosts === undefined ? {} : { ExtraHosts: network.extraHosts }),
      ...(network.sysctls === undefined ? {} : { Sysctls: { ...network.sysctls } }),
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      Init: true,
      IpcMode: 'private',
      PidsLimit: options.pidsLimit,
      Memory: options.memoryMb * 1024 * 1024,
      // Equal to Memory: no swap, so a memory bomb meets the OOM killer instead of the disk.
      MemorySwap: options.memoryMb * 1024 * 1024,
      NanoCpus: Math.round(options.cpus * 1e9),
      Tmpfs: Object.fromEntries(readOnly ? WRITABLE_PATHS.map(tmpfs) : [tmpfs('/tmp')]),
      ReadonlyRootfs: readOnly,
      ...(readOnly ? {} : { StorageOpt: { size: `${options.diskMb}M` } }),
      ...(options.runtime === undefined ? {} : { Runtime: options.runtime }),
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
    },
    ...(isolated ? {} : { NetworkingConfig: { EndpointsConfig: { [network.mode]: {} } } }),
  }
}

/** The environment of the container and of every exec: the proxy's variables win. */
export function sandboxEnv(spec: SandboxSpec, network: ContainerNetwork): Record<string, string> {
  return { HOME: '/tmp', ...spec.env, ...network.env }
}

/** The host user's ids; files the sandbox creates in the mirror then belong to them. */
export function hostUser(): { uid: number; gid: number } {
  return { uid: process.getuid?.() ?? 1000, gid: process.getgid?.() ?? 1000 }
}
