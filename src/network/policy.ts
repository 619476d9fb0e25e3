/**
 * The egress policy as data: destination entries, presets, and the decision for one requested
 * host and port. Pure; the proxy adds the DNS half (what the name resolves to).
 */
import { isIP, isIPv6 } from 'node:net'
import { domainToASCII } from 'node:url'
import { SafeCoderError } from '../shared/errors.js'
import { canonicalIp } from './address.js'
import { expandPresets } from './presets.js'
import type { NetworkPolicy } from './types.js'

export { expandPresets, presets, type PresetName } from './presets.js'

export interface Destination {
  /** Lower-case ASCII host name (without the "*."), or a canonical address (see canonicalIp). */
  host: string
  /** "*.example.org": subdomains of `host`, not `host` itself. */
  wildcard: boolean
  /** Absent: any port. */
  port?: number
}

const forms =
  'a host name ("pkgs.example.com"), subdomains of one ("*.example.org"), an address ("10.1.2.3", ' +
  '"[::1]"), any of these with a port ("host:443", "10.1.2.3:8080", "[::1]:80"), or a preset ' +
  '("preset:npm")'

function invalid(entry: string, why: string): SafeCoderError {
  return new SafeCoderError('CONFIG_INVALID', `Invalid network destination "${entry}": ${why}.`, {
    hint: `Write ${forms}.`,
    data: { entry },
  })
}

function splitHostPort(text: string, entry: string): [string, string | undefined] {
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0) throw invalid(entry, 'the "[" of an IPv6 address is not closed')
    const host = text.slice(1, close)
    const rest = text.slice(close + 1)
    if (!isIPv6(host)) throw invalid(entry, `"${host}" is not an IPv6 address`)
    if (rest === '') return [host, undefined]
    if (!rest.startsWith(':')) throw invalid(entry, 'only ":port" may follow "]"')
    return [host, rest.slice(1)]
  }
  const colons = text.split(':').length - 1
  if (colons > 1) {
    if (!isIPv6(text))
      throw invalid(entry, 'it is not an IPv6 address (with a port, write "[::1]:80")')
    return [text, undefined]
  }
  if (colons === 0) return [text, undefined]
  const at = text.indexOf(':')
  return [text.slice(0, at), text.slice(at + 1)]
}

function parsePort(text: string, entry: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN
  if (!(port >= 1 && port <= 65535)) throw invalid(entry, `"${text}" is not a port (1-65535)`)
  return port
}

const label = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/

function hostName(name: string, entry: string): string {
  if (name.includes('*')) throw invalid(entry, '"*" may only start an entry, as in "*.example.org"')
  if (/^\d+$/.test(name.split('.').at(-1) ?? '')) {
    throw invalid(entry, 'it is neither an IP address nor a host name')
  }
  const ascii = domainToASCII(name)
  if (ascii === '' || ascii.length > 253 || !ascii.split('.').every((l) => label.test(l))) {
    throw invalid(entry, 'it is not a valid host name')
  }
  return ascii
}

/** Parses one allow or deny entry; CONFIG_INVALID naming the entry and the accepted forms. */
export function parseDestination(entry: string): Destination {
  const text = entry.trim()
  if (text === '') throw invalid(entry, 'it is empty')
  if (/\s/.test(text)) throw invalid(entry, 'it contains spaces')
  if (text.includes('/')) throw invalid(entry, 'give a host, not a URL, path or address range')
  if (/^preset:/i.test(text)) throw invalid(entry, 'presets are expanded first (expandPresets)')
  const [hostPart, portText] = splitHostPort(text, entry)
  const port = portText === undefined ? undefined : parsePort(portText, entry)
  const wildcard = hostPart.startsWith('*.')
  let name = (wildcard ? hostPart.slice(2) : hostPart).toLowerCase()
  if (name.endsWith('.')) name = name.slice(0, -1)
  if (name === '') throw invalid(entry, 'the host is missing')
  const address = canonicalIp(name)
  if (address !== undefined && wildcard) throw invalid(entry, '"*." needs a domain, not an address')
  const host = address ?? hostName(name, entry)
  return port === undefined ? { host, wildcard } : { host, wildcard, port }
}

/** A requested host as the policy compares it: lower case, no brackets or trailing dot. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h.endsWith('.')) h = h.slice(0, -1)
  return canonicalIp(h) ?? h
}

interface Rule extends Destination {
  entry: string
}

interface Compiled {
  key: string
  allow: Rule[]
  deny: Rule[]
}

let last: Compiled | undefined

function compile(policy: NetworkPolicy): Compiled {
  const key = `${policy.allow.join('\n')}\0${policy.deny.join('\n')}`
  if (last?.key === key) return last
  const rules = (entries: string[]): Rule[] =>
    expandPresets(entries).map((entry) => ({ entry, ...parseDestination(entry) }))
  last = { key, allow: rules(policy.allow), deny: rules(policy.deny) }
  return last
}

function matches(rule: Rule, host: string, port: number): boolean {
  if (rule.port !== undefined && rule.port !== port) return false
  if (rule.wildcard) return isIP(host) === 0 && host.endsWith(`.${rule.host}`)
  return rule.host === host
}

/** The entry of `list` ("allow" or "deny") that matches host:port, if any. */
export function matchingEntry(
  policy: NetworkPolicy,
  list: 'allow' | 'deny',
  host: string,
  port: number,
): string | undefined {
  const h = normalizeHost(host)
  return compile(policy)[list].find((rule) => matches(rule, h, port))?.entry
}

export interface Decision {
  allowed: boolean
  /** Why not, in a few words (the `reason` of a `denied` event). */
  reason?: string
  /** An allow entry naming this very address matched: it may be a private one. */
  explicitAddress: boolean
  /** What refused it: mode `none`, a deny entry (`entry`), or the allow-list lacking it. */
  deniedBy?: 'mode' | 'deny' | 'allow'
  entry?: string
}

/**
 * Whether the policy lets the sandbox reach host:port, judged on the requested name: deny entries
 * win; `none` refuses everything; `open` allows whatever is not denied. Throws CONFIG_INVALID when
 * an entry is malformed.
 */
export function decide(policy: NetworkPolicy, host: string, port: number): Decision {
  if (policy.mode === 'none') {
    const reason = 'network is off for this session'
    return { allowed: false, reason, explicitAddress: false, deniedBy: 'mode' }
  }
  const denied = matchingEntry(policy, 'deny', host, port)
  if (denied !== undefined) {
    const reason = `matches the deny entry "${denied}"`
    return { allowed: false, reason, explicitAddress: false, deniedBy: 'deny', entry: denied }
  }
  const allowed = matchingEntry(policy, 'allow', host, port)
  const explicitAddress = allowed !== undefined && isIP(normalizeHost(host)) !== 0
  if (allowed !== undefined || policy.mode === 'open') return { allowed: true, explicitAddress }
  return {
    allowed: false,
    reason: 'not in the allow-list',
    explicitAddress: false,
    deniedBy: 'allow',
  }
}
