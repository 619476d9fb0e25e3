/**
 * IP address helpers for the egress policy: one canonical text per address (so "::ffff:10.0.0.1",
 * "0:0:0:0:0:ffff:a00:1" and "10.0.0.1" are the same destination) and the ranges that never leave
 * the machine or its network (loopback, private, link-local and the cloud metadata address, …).
 */
import { isIPv4, isIPv6 } from 'node:net'

function v4Bytes(ip: string): number[] | undefined {
  return isIPv4(ip) ? ip.split('.').map(Number) : undefined
}

function v4FromWords(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.')
}

/** The eight 16-bit groups of an IPv6 address (a zone id such as "%eth0" is dropped). */
export function ipv6Groups(ip: string): number[] | undefined {
  const bare = ip.replace(/%.*$/, '')
  if (!isIPv6(bare)) return undefined
  let head = bare
  const tail: number[] = []
  const lastColon = bare.lastIndexOf(':')
  const last = bare.slice(lastColon + 1)
  if (last.includes('.')) {
    const bytes = v4Bytes(last)
    if (bytes === undefined) return undefined
    const [a = 0, b = 0, c = 0, d = 0] = bytes
    tail.push(a * 256 + b, c * 256 + d)
    head = bare.slice(0, lastColon)
    if (head.endsWith(':')) head += ':'
  }
  const hex = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((g) => parseInt(g, 16))
  const halves = head.split('::')
  const left = hex(halves[0] ?? '')
  if (halves.length === 1) return [...left, ...tail]
  const right = hex(halves[1] ?? '')
  const fill = 8 - left.length - right.length - tail.length
  return [...left, ...new Array<number>(fill).fill(0), ...right, ...tail]
}

/**
 * One text per address: IPv4 as dotted decimal; IPv4-mapped IPv6 as its IPv4 address; other IPv6
 * as eight uncompressed lower-case hex groups. Undefined when `ip` is not an address.
 */
export function canonicalIp(ip: string): string | undefined {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  if (isIPv4(text)) return text
  const groups = ipv6Groups(text)
  if (groups === undefined) return undefined
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return v4FromWords(groups[6] ?? 0, groups[7] ?? 0)
  }
  return groups.map((g) => g.toString(16)).join(':')
}

/** [base address, prefix length] of the IPv4 ranges that are not the public internet. */
const privateV4: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 (cloud metadata)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. 255.255.255.255 broadcast
]

function v4Number(ip: string): number {
  return (v4Bytes(ip) ?? [0, 0, 0, 0]).reduce((n, byte) => n * 256 + byte, 0)
}

function isPrivateV4(ip: string): boolean {
  const n = v4Number(ip)
  return privateV4.some(([base, bits]) => {
    const size = 2 ** (32 - bits)
    return Math.floor(n / size) === Math.floor(v4Number(base) / size)
  })
}

function isPrivateV6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, , , , g5 = 0, g6 = 0, g7 = 0] = g
  const embedded = v4FromWords(g6, g7)
  if (g.slice(0, 5).every((x) => x === 0) && (g5 === 0 || g5 === 0xffff)) {
    return isPrivateV4(embedded) // ::, ::1, IPv4-compatible and IPv4-mapped
  }
  if (g0 === 0x64 && g1 === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return isPrivateV4(embedded) // NAT64 64:ff9b::/96
  }
  if (g0 === 0x2002) return isPrivateV4(v4FromWords(g1, g[2] ?? 0)) // 6to4
  return (
    (g0 & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (g0 & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (g0 & 0xffc0) === 0xfec0 || // site-local fec0::/10 (deprecated)
    (g0 & 0xff00) === 0xff00 // multicast ff00::/8
  )
}

/**
 * Whether an address stays inside the machine or its networks: loopback, private, link-local
 * (with the metadata service), CGNAT, unspecified, multicast, reserved, and their IPv6 forms.
 * Anything that is not an IP address counts as private: callers fail closed.
 */
export function isPrivateAddress(ip: string): boolean {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  if (isIPv4(text)) return isPrivateV4(text)
  const groups = ipv6Groups(text)
  return groups === undefined ? true : isPrivateV6(groups)
}
