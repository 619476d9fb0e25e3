/**
 * The proof that an allow-list session's internal network is a wall: run from inside that
 * network (by `wall-main.ts`, in a container beside the proxy), it tries every address that
 * could lead out — the engine's gateway, default-route gateways, names the engine put in
 * /etc/hosts (`host.containers.internal`) — and reports each one that answered. Node built-ins only.
 */
import { readFile } from 'node:fs/promises'
import { connect, isIPv4 } from 'node:net'
import os from 'node:os'

/** What one attempt found. `refused` counts as reachable: a host answered with a reset. */
export type TcpOutcome = 'connected' | 'refused' | 'unreachable' | 'timeout' | 'error'

export interface WallFinding {
  address: string
  /** Where the address came from: "gateway", "route", "/etc/hosts host.containers.internal". */
  source: string
  tcp: TcpOutcome
  /** On-link addresses: whether anything answered ARP for it (port-independent proof). */
  arp?: 'answered' | 'silent'
}

/** One JSON line on stdout: `open` lists what answered; an empty `open` and `ipv6` is a wall. */
export interface WallReport {
  type: 'wall'
  checked: WallFinding[]
  open: WallFinding[]
  /** Interfaces other than lo with an IPv6 address: link-local reaches the host's bridge too. */
  ipv6: string[]
}

/** The port tried: any answer (even a reset) proves a host is there. */
export const WALL_PORT = 9

/** Gateways (non-zero third column) of /proc/net/route, as dotted quads. */
export function routeGateways(text: string): string[] {
  const found: string[] = []
  for (const line of text.split('\n').slice(1)) {
    const hex = line.trim().split(/\s+/)[2]
    if (hex === undefined || !/^[0-9A-Fa-f]{8}$/.test(hex) || /^0+$/.test(hex)) continue
    const n = Number.parseInt(hex, 16)
    found.push([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'))
  }
  return found
}

/** IPv4 entries of an /etc/hosts file with their first name. */
export function hostsEntries(text: string): { address: string; name: string }[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim().split(/\s+/))
    .filter(([address, name]) => address !== undefined && isIPv4(address) && name !== undefined)
    .map(([address = '', name = '']) => ({ address, name }))
}

/** Addresses /proc/net/arp holds a completed entry for (flag 0x2: something answered). */
export function answeredArp(text: string): Set<string> {
  const answered = new Set<string>()
  for (const line of text.split('\n').slice(1)) {
    const [address, , flags] = line.trim().split(/\s+/)
    if (address !== undefined && flags !== undefined && (Number(flags) & 2) !== 0)
      answered.add(address)
  }
  return answered
}

/** Interfaces other than lo named in /proc/net/if_inet6. */
export function ipv6Interfaces(text: string): string[] {
  const names = text
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[5])
    .filter((name): name is string => name !== undefined && name !== 'lo')
  return [...new Set(names)]
}

/**
 * Addresses to try: those given (the engine's gateways), route gateways and /etc/hosts entries,
 * without loopback and this container's own addresses; each once, with everywhere it came from.
 */
export function wallTargets(input: {
  given: string[]
  routes: string[]
  hosts: { address: string; name: string }[]
  own: string[]
}): { address: string; source: string }[] {
  const targets = new Map<string, string>()
  const add = (address: string, source: string): void => {
    if (!isIPv4(address) || address.startsWith('127.') || input.own.includes(address)) return
    const known = targets.get(address)
    targets.set(address, known === undefined ? source : `${known}, ${source}`)
  }
  for (const address of input.given) add(address, 'gateway')
  for (const address of input.routes) add(address, 'route')
  for (const entry of input.hosts) add(entry.address, `/etc/hosts ${entry.name}`)
  return [...targets].map(([address, source]) => ({ address, source }))
}

/** One TCP attempt; every outcome is an answer, never a throw. */
export function tryTcp(address: string, port: number, timeoutMs: number): Promise<TcpOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: timeoutMs })
    const done = (outcome: TcpOutcome): void => {
      socket.destroy()
      resolve(outcome)
    }
    socket.once('connect', () => {
      done('connected')
    })
    socket.once('timeout', () => {
      done('timeout')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') done('refused')
      else if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') done('unreachable')
      else done('error')
    })
  })
}

/** Whether a finding shows a way past the proxy. */
export function isOpen(finding: WallFinding): boolean {
  return finding.tcp === 'connected' || finding.tcp === 'refused' || finding.arp === 'answered'
}

const TCP_TIMEOUT_MS = 2000

async function read(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '')
}

/** Tries every target and reads what answered. */
export async function proveWall(given: string[]): Promise<WallReport> {
  const own = Object.values(os.networkInterfaces())
    .flat()
    .map((a) => a?.address ?? '')
  const targets = wallTargets({
    given,
    routes: routeGateways(await read('/proc/net/route')),
    hosts: hostsEntries(await read('/etc/hosts')),
    own,
  })
  const tcp = await Promise.all(targets.map((t) => tryTcp(t.address, WALL_PORT, TCP_TIMEOUT_MS)))
  // Read after every attempt settled: each one asked ARP for its address if it was on-link.
  const arp = answeredArp(await read('/proc/net/arp'))
  const checked: WallFinding[] = targets.map((t, i) => ({
    ...t,
    tcp: tcp[i] ?? 'error',
    arp: arp.has(t.address) ? 'answered' : 'silent',
  }))
  return {
    type: 'wall',
    checked,
    open: checked.filter(isOpen),
    ipv6: ipv6Interfaces(await read('/proc/net/if_inet6')),
  }
}
