/**
 * Admission of one connection: the policy judges the requested name, then the proxy resolves it
 * itself and refuses private addresses (DNS rebinding, the metadata service, the host's LAN) unless
 * an allow entry names the address. The caller connects to the addresses it got, never to a name.
 */
import { lookup } from 'node:dns/promises'
import { connect, isIP, type Socket } from 'node:net'
import { isPrivateAddress } from './address.js'
import { decide, matchingEntry, normalizeHost, type Decision } from './policy.js'
import type { NetworkPolicy, ProxyEvent } from './types.js'

export interface ProxyContext {
  policy: () => NetworkPolicy
  resolve: (host: string) => Promise<string[]>
  connectTimeoutMs: number
  emit: (event: ProxyEvent) => void
  /** Every upstream socket, so that closing the proxy ends them. */
  track: (socket: Socket) => void
}

export type Admission =
  | { ok: true; addresses: string[] }
  | { ok: false; status: 403 | 502; event: 'denied' | 'allowed'; reason: string; text: string }

/** "host:port", with IPv6 addresses in brackets. */
export function target(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** All addresses of a name, in the resolver's order (dns.lookup, like any other program). */
export async function lookupAll(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true, verbatim: true })
  return found.map((entry) => entry.address)
}

function explain(decision: Decision, host: string): string {
  switch (decision.deniedBy) {
    case 'mode':
      return `this session has no network ([network] mode "none").`
    case 'deny':
      return `it matches "${decision.entry ?? ''}" in this session's deny-list ([network] deny), which wins over any allow entry.`
    case 'allow':
    case undefined:
      return `not in this session's allow-list ([network] allow). Allow it with --allow-host ${host} or in the dashboard.`
  }
}

export async function admit(ctx: ProxyContext, host: string, port: number): Promise<Admission> {
  const where = target(host, port)
  const refuse = (reason: string, text: string): Admission => {
    const body = `Safe Coder blocked ${where}: ${text}\n`
    return { ok: false, status: 403, event: 'denied', reason, text: body }
  }
  const unreachable = (reason: string): Admission => {
    const text = `Safe Coder could not reach ${where}: ${reason}.\n`
    return { ok: false, status: 502, event: 'allowed', reason, text }
  }
  let policy: NetworkPolicy
  let decision: Decision
  try {
    policy = ctx.policy()
    decision = decide(policy, host, port)
  } catch (error) {
    const why = `the network policy is unusable (${describe(error)})`
    return refuse(why, `${why}.`)
  }
  if (!decision.allowed) return refuse(decision.reason ?? 'refused', explain(decision, host))
  const name = normalizeHost(host)
  let addresses: string[]
  try {
    addresses = isIP(name) !== 0 ? [name] : (await ctx.resolve(name)).filter((a) => isIP(a) !== 0)
  } catch (error) {
    return unreachable(`DNS lookup failed (${describe(error)})`)
  }
  if (addresses.length === 0) return unreachable('DNS lookup found no address')
  for (const address of addresses) {
    const denied = matchingEntry(policy, 'deny', address, port)
    if (denied !== undefined) {
      const text = `it resolves to ${address}, which matches "${denied}" in this session's deny-list ([network] deny).`
      return refuse(`resolves to a denied address (${address})`, text)
    }
    const named =
      decision.explicitAddress || matchingEntry(policy, 'allow', address, port) !== undefined
    if (isPrivateAddress(address) && !named) {
      const is = address === name ? 'is' : 'resolves to'
      const text = `it ${is} a private address (${address}), which only an allow entry naming that address can reach ([network] allow). Allow it with --allow-host ${address} or in the dashboard.`
      return refuse(`${is} a private address (${address})`, text)
    }
  }
  return { ok: true, addresses }
}

function connectOne(ctx: ProxyContext, address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port })
    ctx.track(socket)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`connecting to ${target(address, port)} timed out`))
    }, ctx.connectTimeoutMs)
    const onError = (error: Error): void => {
      clearTimeout(timer)
      reject(error)
    }
    socket.once('error', onError)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', onError)
      resolve(socket)
    })
  })
}

/** A socket to the first of `addresses` that answers (they are literal addresses: no lookup). */
export async function connectFirst(
  ctx: ProxyContext,
  addresses: string[],
  port: number,
): Promise<Socket> {
  let lastError: unknown = new Error('no address to connect to')
  for (const address of addresses) {
    try {
      return await connectOne(ctx, address, port)
    } catch (error) {
      lastError = error
    }
  }
  throw lastError
}
