import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parsePolicy, watchPolicyFile } from '../../../src/network/policy-file.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'

let dir: string
let file: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sc-policy-'))
  file = join(dir, 'policy.json')
})

afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('parsePolicy', () => {
  it('checks the mode and the entries, and expands presets', () => {
    expect(parsePolicy({ mode: 'allowlist', allow: ['preset:go', 'x.test'] }, 'p')).toEqual({
      mode: 'allowlist',
      allow: ['proxy.golang.org:443', 'sum.golang.org:443', 'storage.googleapis.com:443', 'x.test'],
      deny: [],
    })
    for (const bad of [
      null,
      [],
      { mode: 'sometimes' },
      {},
      { mode: 'open', allow: 'x.test' },
      { mode: 'open', deny: [1] },
      { mode: 'open', allow: ['http://x.test'] },
      { mode: 'open', allow: ['preset:nope'] },
    ]) {
      let caught: unknown
      try {
        parsePolicy(bad, 'p')
      } catch (error) {
        caught = error
      }
      expect(isSafeCoderError(caught, 'CONFIG_INVALID'), JSON.stringify(bad)).toBe(true)
    }
  })
})

describe('watchPolicyFile', () => {
  it('re-reads the file when it changes, stat-ing at most once per interval', () => {
    let now = 0
    const errors: string[] = []
    writeFileSync(file, JSON.stringify({ mode: 'allowlist', allow: ['a.test'], deny: [] }))
    const policy = watchPolicyFile(file, { onError: (m) => errors.push(m), now: () => now })
    expect(policy().allow).toEqual(['a.test'])

    writeFileSync(file, JSON.stringify({ mode: 'allowlist', allow: ['a.test', 'bb.test'] }))
    now = 999
    expect(policy().allow).toEqual(['a.test'])
    now = 1000
    expect(policy().allow).toEqual(['a.test', 'bb.test'])

    writeFileSync(file, '{"mode": "allowl')
    now = 2000
    expect(policy().allow).toEqual(['a.test', 'bb.test'])
    now = 3000
    expect(policy().allow).toEqual(['a.test', 'bb.test'])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(`Cannot read the network policy ${file}`)

    writeFileSync(file, JSON.stringify({ mode: 'none', allow: [], deny: [] }))
    now = 4000
    expect(policy().mode).toBe('none')
  })

  it('throws CONFIG_INVALID when the first read fails', () => {
    expect(() => watchPolicyFile(file, { onError: () => undefined })).toThrow(/ENOENT/)
    writeFileSync(file, JSON.stringify({ mode: 'open', allow: ['bad entry'] }))
    expect(() => watchPolicyFile(file, { onError: () => undefined })).toThrow(
      /Invalid network destination "bad entry"/,
    )
  })
})
