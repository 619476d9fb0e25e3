import { describe, expect, it } from 'vitest'
import { describeNetwork, resolveNetworkPolicy } from '../../../src/session/network.js'

const none = { mode: 'none' as const, allow: [], deny: [] }

describe('the session network policy from config and flags', () => {
  it('stays off by default', () => {
    expect(resolveNetworkPolicy(none)).toEqual(none)
    expect(describeNetwork(resolveNetworkPolicy(none))).toBe('no network')
  })

  it('--allow-host asks for the proxy: allow-list mode with the host added', () => {
    const policy = resolveNetworkPolicy(
      { mode: 'none', allow: ['a.example'], deny: ['bad.example'] },
      { allowHosts: ['b.example:8080', 'a.example'] },
    )
    expect(policy).toEqual({
      mode: 'allowlist',
      allow: ['a.example', 'b.example:8080'],
      deny: ['bad.example'],
    })
    expect(describeNetwork(policy)).toBe('allow-list (2 hosts)')
  })

  it('expands presets and refuses a bad entry before anything starts', () => {
    const policy = resolveNetworkPolicy(none, { allowHosts: ['preset:npm'] })
    expect(policy.allow).toContain('registry.npmjs.org:443')
    expect(() => resolveNetworkPolicy(none, { allowHosts: ['http://x.example/'] })).toThrow(
      /http:\/\/x\.example\//,
    )
    expect(() => resolveNetworkPolicy(none, { mode: 'none', allowHosts: ['a.example'] })).toThrow(
      /--allow-host needs a network/,
    )
  })

  it('says an open network out loud', () => {
    expect(describeNetwork(resolveNetworkPolicy({ ...none, mode: 'open' }))).toBe(
      'OPEN NETWORK (unrestricted)',
    )
  })
})
