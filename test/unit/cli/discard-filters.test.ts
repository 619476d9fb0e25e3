import { describe, expect, it } from 'vitest'
import { parseDuration } from '../../../src/cli/options.js'
import { failedFilters, hasFilter } from '../../../src/session/session-filter.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'

describe('parseDuration', () => {
  it('reads a whole number with a unit', () => {
    expect(parseDuration('30m', '--older-than')).toBe(30 * 60_000)
    expect(parseDuration('12h', '--older-than')).toBe(12 * 3_600_000)
    expect(parseDuration('7d', '--older-than')).toBe(7 * 86_400_000)
    expect(parseDuration('2w', '--older-than')).toBe(14 * 86_400_000)
    expect(parseDuration('45s', '--older-than')).toBe(45_000)
    expect(parseDuration('0d', '--older-than')).toBe(0)
  })

  it.each(['7', 'd', '7 days', '-1d', '1.5h', '', '7D', '1y'])(
    'refuses %j as a USAGE error naming the option and an example',
    (value) => {
      let caught: unknown
      try {
        parseDuration(value, '--older-than')
      } catch (error) {
        caught = error
      }
      expect(isSafeCoderError(caught) && caught.code).toBe('USAGE')
      const error = caught as Error & { hint?: string }
      expect(error.message).toContain('--older-than')
      expect(error.message).toContain('7d')
    },
  )
})

describe('session filters', () => {
  const now = Date.parse('2026-12-07T12:00:00Z')
  const session = (over: {
    head?: string | undefined
    baseCommit?: string
    syncedCommit?: string
    updatedAt?: string
    commits?: number
  }) => {
    const { head, ...record } = { head: 'base', ...over }
    return {
      record: {
        id: 's-1',
        baseCommit: 'base',
        updatedAt: '2026-12-07T11:00:00Z',
        commits: 0,
        ...record,
      },
      head,
    }
  }

  it('counts as set only when some filter is given', () => {
    expect(hasFilter({})).toBe(false)
    expect(hasFilter({ synced: true })).toBe(true)
    expect(hasFilter({ olderThanMs: 0 })).toBe(true)
  })

  it('--empty: the head is still the base commit', () => {
    expect(failedFilters(session({}), { empty: true }, now)).toEqual([])
    expect(failedFilters(session({ head: 'c1', commits: 1 }), { empty: true }, now)).toEqual([
      '--empty',
    ])
    // An unreadable history is judged by the record's commit count.
    expect(failedFilters(session({ head: undefined }), { empty: true }, now)).toEqual([])
    expect(failedFilters(session({ head: undefined, commits: 2 }), { empty: true }, now)).toEqual([
      '--empty',
    ])
  })

  it('--synced: nothing beyond the start, or the head is what the last sync brought back', () => {
    expect(failedFilters(session({}), { synced: true }, now)).toEqual([])
    expect(
      failedFilters(session({ head: 'c2', syncedCommit: 'c2', commits: 2 }), { synced: true }, now),
    ).toEqual([])
    expect(
      failedFilters(session({ head: 'c3', syncedCommit: 'c2', commits: 3 }), { synced: true }, now),
    ).toEqual(['--synced'])
    expect(failedFilters(session({ head: 'c1', commits: 1 }), { synced: true }, now)).toEqual([
      '--synced',
    ])
    expect(failedFilters(session({ head: undefined, commits: 1 }), { synced: true }, now)).toEqual([
      '--synced',
    ])
  })

  it('--older-than: last activity strictly longer ago than the duration', () => {
    const hour = 3_600_000
    expect(failedFilters(session({}), { olderThanMs: 30 * 60_000 }, now)).toEqual([])
    expect(failedFilters(session({}), { olderThanMs: hour }, now)).toEqual(['--older-than'])
    expect(failedFilters(session({ updatedAt: 'garbage' }), { olderThanMs: 0 }, now)).toEqual([
      '--older-than',
    ])
  })

  it('combines filters with AND and names each one that fails', () => {
    const busy = session({ head: 'c1', commits: 1, updatedAt: '2026-12-07T11:59:00Z' })
    expect(failedFilters(busy, { empty: true, synced: true, olderThanMs: 3_600_000 }, now)).toEqual(
      ['--empty', '--synced', '--older-than'],
    )
    expect(
      failedFilters(session({}), { empty: true, synced: true, olderThanMs: 60_000 }, now),
    ).toEqual([])
  })
})
