import { describe, expect, it } from 'vitest'
import { parseSessionRecord } from '../../../src/session/record.js'

const good = {
  version: 1,
  id: 's-mxdez9jw-9d004c1e',
  projectPath: '/tmp/project',
  backend: 'docker',
  engine: 'unix:///var/run/docker.sock',
  status: 'stopped',
  createdAt: '2026-12-07T15:17:27.454Z',
  updatedAt: '2026-12-07T15:17:28.526Z',
  ownerPid: 405,
  ownerHost: 'vm',
  baseCommit: '0d0b8ed720ffae28d340bad1f9b0c829189ca6e4',
  commits: 1,
  network: { mode: 'allowlist', allow: ['registry.npmjs.org'], deny: [] },
  usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 },
}

describe('session.json', () => {
  it('reads a whole record, and one with only the required fields', () => {
    expect(parseSessionRecord(good)).toEqual({ ok: true, record: good })
    const required = Object.fromEntries(
      Object.entries(good).filter(
        ([key]) => !['engine', 'baseCommit', 'network', 'usage'].includes(key),
      ),
    )
    expect(parseSessionRecord(required)).toEqual({ ok: true, record: required })
  })

  it('drops fields this version does not know', () => {
    expect(parseSessionRecord({ ...good, future: { x: 1 } })).toEqual({ ok: true, record: good })
  })

  it('names the field that is wrong and what it must be', () => {
    const wrong = (change: Record<string, unknown>) => parseSessionRecord({ ...good, ...change })
    expect(wrong({ version: 2 })).toEqual({ ok: false, message: '"version" must be one of 1' })
    expect(wrong({ id: undefined })).toEqual({ ok: false, message: '"id" must be a string' })
    const status = wrong({ status: 'running' })
    expect(status.ok ? '' : status.message).toMatch(/^"status" must be one of "active"/)
    expect(wrong({ commits: -1 })).toEqual({
      ok: false,
      message: '"commits" must be a whole number ≥ 0',
    })
    expect(wrong({ ownerPid: 1.5 })).toMatchObject({ ok: false })
    expect(wrong({ network: { mode: 'open', allow: 'all', deny: [] } })).toEqual({
      ok: false,
      message: '"network" must be an object whose "allow" is a list',
    })
    expect(wrong({ usage: { inputTokens: 1, outputTokens: 1 } })).toMatchObject({ ok: false })
    expect(parseSessionRecord(null)).toEqual({ ok: false, message: 'not a JSON object' })
    expect(parseSessionRecord([good])).toEqual({ ok: false, message: 'not a JSON object' })
  })
})
