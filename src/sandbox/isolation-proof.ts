import os from 'node:os'
import type { Sandbox } from './types.js'

/** What a sandbox looks like from inside: the evidence `doctor` prints. */
export interface IsolationReport {
  kernel: string
  hostKernel: string
  uid: number
  gid: number
  hostname: string
  /** Network interfaces other than loopback; empty means no way out. */
  interfaces: string[]
  /** Routes in the kernel's table; empty means no route out. */
  routes: number
  /** Whether a file planted on the host outside the mirror could be found from inside. */
  hostCanaryVisible: boolean
  /** Effective capability mask in hex; all zero means none. */
  capEff: string
  noNewPrivs: boolean
  /** Whether a Docker socket is reachable inside. */
  dockerSocket: boolean
  /**
   * A kernel of its own (a microVM): capabilities and no-new-privileges then only matter inside
   * the guest, whose boundary is the hypervisor.
   */
  ownKernel: boolean
  /** True when every check shows isolation. */
  isolated: boolean
}

const PROBE_SCRIPT = `
echo "kernel=$(uname -r)"
echo "uid=$(id -u)"
echo "gid=$(id -g)"
echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | grep -vx lo | tr '\\n' ' ')"
echo "routes=$(tail -n +2 /proc/net/route | grep -c .)"
echo "capeff=$(grep CapEff /proc/self/status | tr -d ' \\t' | cut -d: -f2)"
echo "nnp=$(grep NoNewPrivs /proc/self/status | tr -d ' \\t' | cut -d: -f2)"
for s in /var/run/docker.sock /run/docker.sock /run/podman/podman.sock; do [ -S "$s" ] && echo "socket=$s"; done
[ -n "$1" ] && find / -xdev -name "$1" 2>/dev/null | head -n 1 | sed 's/^/canary=/'
exit 0
`

/**
 * Proves isolation from inside a live sandbox: kernel, identity, network, capabilities, and
 * whether a canary file the caller planted on the host (outside the mirror) is visible.
 */
export async function proveIsolation(
  sandbox: Sandbox,
  canaryName: string,
  signal?: AbortSignal,
): Promise<IsolationReport> {
  const result = await sandbox.exec(
    {
      command: ['/bin/sh', '-c', PROBE_SCRIPT, 'safe-coder-doctor', canaryName],
      timeoutMs: 60_000,
    },
    signal === undefined ? {} : { signal },
  )
  const values = new Map<string, string>()
  for (const line of result.stdout.split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim())
  }
  const get = (key: string): string => values.get(key) ?? ''
  const interfaces = get('ifaces').split(' ').filter(Boolean)
  const routes = Number(get('routes') || '0')
  const capEff = get('capeff')
  const report: IsolationReport = {
    kernel: get('kernel'),
    hostKernel: os.release(),
    uid: Number(get('uid')),
    gid: Number(get('gid')),
    hostname: get('hostname'),
    interfaces,
    routes,
    hostCanaryVisible: values.has('canary'),
    capEff,
    noNewPrivs: get('nnp') === '1',
    dockerSocket: values.has('socket'),
    ownKernel: get('kernel') !== '' && get('kernel') !== os.release(),
    isolated: false,
  }
  report.isolated =
    interfaces.length === 0 &&
    routes === 0 &&
    !report.hostCanaryVisible &&
    (report.ownKernel || (/^0+$/.test(capEff) && report.noNewPrivs)) &&
    !report.dockerSocket
  return report
}
