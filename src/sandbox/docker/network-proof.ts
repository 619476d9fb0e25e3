import type Docker from 'dockerode'
import type { WallFinding, WallReport } from '../../network/wall.js'
import { WALL_PORT } from '../../network/wall.js'
import { SafeCoderError } from '../../shared/errors.js'
import { StreamDemuxer } from './demux.js'
import { buildHelperSpec } from './helper-container.js'
import type { ProxyAssets } from './proxy-assets.js'

/**
 * Kernel settings of every container on an allow-list session's internal network: no IPv6,
 * whose link-local addresses would reach the host's end of the bridge without any gateway.
 */
export const WALL_SYSCTLS: Readonly<Record<string, string>> = {
  'net.ipv6.conf.all.disable_ipv6': '1',
  'net.ipv6.conf.default.disable_ipv6': '1',
}

// The proof's own container only: an address nobody holds fails ARP in 0.3 s instead of 3.
const FAST_ARP = {
  'net.ipv4.neigh.eth0.retrans_time_ms': '100',
  'net.ipv4.neigh.eth0.mcast_solicit': '3',
}
const MAX_OUTPUT = 64 * 1024

export interface ProofInput {
  name: string
  /** The id of Safe Coder's proxy image. */
  image: string
  labels: Record<string, string>
  assets: ProxyAssets
  /** The internal network, before the sandbox joins it. */
  network: string
  kind: 'docker' | 'podman'
}

/**
 * Proves, from inside the internal network, that nothing but the proxy can be reached there:
 * a container of Safe Coder's own (same network, same kernel settings as the sandbox) tries the
 * engine's gateways, route gateways and /etc/hosts names (`wall-main.ts`). Resolves when every
 * attempt went unanswered; otherwise BACKEND_UNAVAILABLE saying what answered, on which engine,
 * and what to use instead — an allow-list that cannot be enforced is refused, never weakened.
 */
export async function proveNetworkWall(docker: Docker, input: ProofInput): Promise<WallReport> {
  const info = await docker.getNetwork(input.network).inspect()
  const gateways = ((info.IPAM?.Config ?? []) as { Gateway?: string }[])
    .map((c) => c.Gateway ?? '')
    .filter((g) => g !== '')
  const spec = buildHelperSpec({
    name: input.name,
    image: input.image,
    labels: input.labels,
    assets: input.assets,
    main: 'network/wall-main.js',
    env: { SAFE_CODER_WALL_TARGETS: gateways.join(',') },
    network: input.network,
    cpus: 0.5,
    memoryMb: 128,
  })
  const container = await docker.createContainer({
    ...spec,
    HostConfig: { ...spec.HostConfig, Sysctls: { ...WALL_SYSCTLS, ...FAST_ARP } },
  })
  let output: string
  try {
    await container.start()
    await container.wait()
    output = await stdoutOf(container)
  } finally {
    await container.remove({ force: true }).catch(() => undefined)
  }
  const report = parseReport(output)
  if (report.open.length > 0 || report.ipv6.length > 0) throw wallError(input.kind, report)
  return report
}

async function stdoutOf(container: Docker.Container): Promise<string> {
  // follow: a finished container's log as a stream; without it dockerode JSON-parses the body.
  const logs = await container.logs({ stdout: true, stderr: true, follow: true })
  let out = ''
  const demux = new StreamDemuxer((which, chunk) => {
    if (out.length < MAX_OUTPUT) out += which === 'stdout' ? String(chunk) : ''
  })
  for await (const chunk of logs) demux.push(Buffer.from(chunk as Uint8Array))
  return out
}

function parseReport(output: string): WallReport {
  const line = output.trim().split('\n').at(-1) ?? ''
  try {
    const value = JSON.parse(line) as Partial<WallReport>
    if (value.type === 'wall' && Array.isArray(value.open) && Array.isArray(value.ipv6)) {
      return value as WallReport
    }
  } catch {
    // Reported below with what it printed.
  }
  throw new SafeCoderError(
    'SANDBOX_FAILED',
    `The network proof of the allow-list did not report: ${line.slice(0, 300) || 'no output'}.`,
    {
      hint: '`npm run build` must have produced dist/network/wall-main.js; `safe-coder doctor` checks the engine.',
    },
  )
}

function describe(finding: WallFinding): string {
  const how =
    finding.tcp === 'connected'
      ? `accepted a connection on port ${WALL_PORT}`
      : finding.tcp === 'refused'
        ? `answered on port ${WALL_PORT} (connection refused: a host is there)`
        : 'answered ARP (a host holds the address)'
  return `${finding.address} (${finding.source}) ${how}`
}

/** Whether an error is the proof's verdict (not a failure to run it). */
export function isWallError(error: unknown): boolean {
  return (
    error instanceof SafeCoderError &&
    error.code === 'BACKEND_UNAVAILABLE' &&
    Array.isArray(error.data?.open)
  )
}

export function wallError(kind: 'docker' | 'podman', report: WallReport): SafeCoderError {
  const engine = kind === 'podman' ? 'Podman' : 'Docker'
  const found = [
    ...report.open.map(describe),
    ...report.ipv6.map((i) => `${i} has IPv6 addresses although Safe Coder turned IPv6 off there`),
  ]
  return new SafeCoderError(
    'BACKEND_UNAVAILABLE',
    `${engine} cannot enforce this session's allow-list: inside its internal network ${found.join('; ')}. A sandbox there could reach the host without the proxy and its log, so Safe Coder refuses to start it.`,
    {
      hint:
        kind === 'podman'
          ? 'Podman 4 with netavark gives an internal network a gateway address on the host. Run allow-list sessions on Docker (--backend docker) or on Podman\'s CNI network backend (network_backend = "cni" in containers.conf), or choose --network none (no network) or --network open (unrestricted, said loudly).'
          : 'This engine gives internal networks an address on the host; use Docker Engine 20.10 or newer on Linux, or choose --network none or --network open.',
      data: { engine: kind, open: report.open, ipv6: report.ipv6 },
    },
  )
}
