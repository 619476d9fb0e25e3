import { describe, expect, it } from 'vitest'
import {
  decide,
  expandPresets,
  normalizeHost,
  parseDestination,
  presets,
} from '../../../src/network/policy.js'
import type { NetworkPolicy } from '../../../src/network/types.js'
import { SafeCoderError } from '../../../src/shared/errors.js'

describe('parseDestination', () => {
  it.each([
    ['pkgs.example.com', { host: 'pkgs.example.com', wildcard: false }],
    ['PKGS.Example.COM.', { host: 'pkgs.example.com', wildcard: false }],
    ['*.example.org', { host: 'example.org', wildcard: true }],
    ['*.example.org:443', { host: 'example.org', wildcard: true, port: 443 }],
    ['10.1.2.3:8080', { host: '10.1.2.3', wildcard: false, port: 8080 }],
    ['10.1.2.3', { host: '10.1.2.3', wildcard: false }],
    ['host:443', { host: 'host', wildcard: false, port: 443 }],
    ['[::1]:80', { host: '0:0:0:0:0:0:0:1', wildcard: false, port: 80 }],
    ['[::1]', { host: '0:0:0:0:0:0:0:1', wildcard: false }],
    ['::1', { host: '0:0:0:0:0:0:0:1', wildcard: false }],
    ['[::ffff:10.0.0.1]:22', { host: '10.0.0.1', wildcard: false, port: 22 }],
    ['bücher.example', { host: 'xn--bcher-kva.example', wildcard: false }],
    ['  spaced.example  ', { host: 'spaced.example', wildcard: false }],
    ['_srv.example.com', { host: '_srv.example.com', wildcard: false }],
  ])('%s', (entry, expected) => {
    expect(parseDestination(entry)).toEqual(expected)
  })

  it.each([
    ['', 'it is empty'],
    ['https://example.com', 'not a URL'],
    ['10.0.0.0/8', 'address range'],
    ['example.com:0', 'is not a port'],
    ['example.com:65536', 'is not a port'],
    ['example.com:http', 'is not a port'],
    ['example.com:', 'is not a port'],
    ['*.10.0.0.1', 'needs a domain'],
    ['*.[::1]', 'not an IPv6 address'],
    ['foo.*.example.com', 'may only start'],
    ['*', 'may only start'],
    ['*.', 'the host is missing'],
    [':443', 'the host is missing'],
    ['10.1.2', 'neither an IP address nor a host name'],
    ['exa mple.com', 'contains spaces'],
    ['-bad.example.com', 'not a valid host name'],
    ['a..b', 'not a valid host name'],
    ['[::1', 'not closed'],
    ['[::1]x', 'only ":port"'],
    ['[example.com]:80', 'is not an IPv6 address'],
    ['::1:80:zz', 'write "[::1]:80"'],
    ['preset:npm', 'presets are expanded first'],
  ])('refuses %j (%s)', (entry, why) => {
    let caught: unknown
    try {
      parseDestination(entry)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(SafeCoderError)
    const error = caught as SafeCoderError
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toContain(`"${entry}"`)
    expect(error.message).toContain(why)
    expect(error.hint).toContain('"*.example.org"')
    expect(error.hint).toContain('"[::1]:80"')
  })
})

describe('presets', () => {
  it('expands preset:NAME, keeps other entries, drops duplicates', () => {
    expect(expandPresets(['preset:npm', 'example.com', 'registry.npmjs.org:443'])).toEqual([
      'registry.npmjs.org:443',
      'registry.yarnpkg.com:443',
      'example.com',
    ])
    expect(expandPresets(['PRESET:Debian'])).toEqual(presets.debian)
    expect(presets.go).toContain('storage.googleapis.com:443')
    expect(presets.crates).toHaveLength(3)
  })

  it('names the known presets for an unknown one', () => {
    expect(() => expandPresets(['preset:maven'])).toThrow(/Unknown network preset "preset:maven"/)
    try {
      expandPresets(['preset:maven'])
    } catch (error) {
      expect((error as SafeCoderError).hint).toContain('preset:pypi')
    }
  })

  it('every preset entry parses', () => {
    for (const entries of Object.values(presets)) {
      for (const entry of entries) expect(parseDestination(entry).port).toBeGreaterThan(0)
    }
  })
})

describe('decide', () => {
  const allowlist = (allow: string[], deny: string[] = []): NetworkPolicy => ({
    mode: 'allowlist',
    allow,
    deny,
  })

  it('matches names case-insensitively, ignoring a trailing dot, on any port unless one is given', () => {
    const policy = allowlist(['pkgs.example.com', 'api.example.net:443'])
    expect(decide(policy, 'PKGS.example.com.', 8443).allowed).toBe(true)
    expect(decide(policy, 'api.example.net', 443).allowed).toBe(true)
    expect(decide(policy, 'api.example.net', 80)).toEqual({
      allowed: false,
      reason: 'not in the allow-list',
      explicitAddress: false,
      deniedBy: 'allow',
    })
    expect(decide(policy, 'example.com', 443).allowed).toBe(false)
    expect(decide(policy, 'evilpkgs.example.com', 443).allowed).toBe(false)
  })

  it('"*.example.org" matches subdomains, not example.org itself', () => {
    const policy = allowlist(['*.example.org'])
    expect(decide(policy, 'a.example.org', 443).allowed).toBe(true)
    expect(decide(policy, 'a.b.example.org', 443).allowed).toBe(true)
    expect(decide(policy, 'example.org', 443).allowed).toBe(false)
    expect(decide(policy, 'badexample.org', 443).allowed).toBe(false)
  })

  it('deny wins over allow, and over open', () => {
    const policy = allowlist(['*.example.org'], ['secret.example.org'])
    expect(decide(policy, 'secret.example.org', 443)).toEqual({
      allowed: false,
      reason: 'matches the deny entry "secret.example.org"',
      explicitAddress: false,
      deniedBy: 'deny',
      entry: 'secret.example.org',
    })
    const open: NetworkPolicy = { mode: 'open', allow: [], deny: ['*.tracker.example:443'] }
    expect(decide(open, 'anything.example', 443).allowed).toBe(true)
    expect(decide(open, 'x.tracker.example', 443).allowed).toBe(false)
    expect(decide(open, 'x.tracker.example', 80).allowed).toBe(true)
  })

  it('none refuses everything', () => {
    const none: NetworkPolicy = { mode: 'none', allow: ['example.com'], deny: [] }
    expect(decide(none, 'example.com', 443)).toMatchObject({ allowed: false, deniedBy: 'mode' })
  })

  it('marks matches of an explicit address, in any of its spellings', () => {
    const policy = allowlist(['10.1.2.3:8080', '[::1]', 'name.example'])
    expect(decide(policy, '10.1.2.3', 8080)).toEqual({ allowed: true, explicitAddress: true })
    expect(decide(policy, '::ffff:10.1.2.3', 8080).explicitAddress).toBe(true)
    expect(decide(policy, '10.1.2.3', 8081).allowed).toBe(false)
    expect(decide(policy, '[0:0::1]', 80).explicitAddress).toBe(true)
    expect(decide(policy, 'name.example', 80)).toEqual({ allowed: true, explicitAddress: false })
    const open: NetworkPolicy = { mode: 'open', allow: [], deny: [] }
    expect(decide(open, '10.1.2.3', 80)).toEqual({ allowed: true, explicitAddress: false })
  })

  it('denies an address under its IPv4-mapped spelling', () => {
    const policy: NetworkPolicy = { mode: 'open', allow: [], deny: ['169.254.169.254'] }
    expect(decide(policy, '::ffff:169.254.169.254', 80).allowed).toBe(false)
  })

  it('expands presets and throws CONFIG_INVALID on a malformed entry', () => {
    expect(decide(allowlist(['preset:pypi']), 'files.pythonhosted.org', 443).allowed).toBe(true)
    expect(() => decide(allowlist(['http://x']), 'x', 80)).toThrow(SafeCoderError)
  })

  it('normalizes requested hosts', () => {
    expect(normalizeHost('[::1]')).toBe('0:0:0:0:0:0:0:1')
    expect(normalizeHost('Example.COM.')).toBe('example.com')
  })
})
