import { describe, expect, it } from 'vitest'
import { createLogRing } from '../../../../src/tui/state/ring.js'
import { initialState, reduce } from '../../../../src/tui/state/reduce.js'
import {
  filterLog,
  focusedSession,
  searchLog,
  sparkline,
} from '../../../../src/tui/state/select.js'
import type { LogLine } from '../../../../src/tui/state/types.js'

function ring(lines: [LogLine['stream'], string][]) {
  const r = createLogRing(100)
  for (const [stream, text] of lines) r.push({ execId: 'e', stream, text })
  return r
}

describe('focusedSession', () => {
  it('is the focused session, or undefined', () => {
    const empty = initialState({ logLines: 10 })
    expect(focusedSession(empty)).toBeUndefined()
    const state = reduce(empty, {
      name: 'client.sessions',
      payload: {
        sessions: [{ id: 's', projectPath: '/p', backend: 'docker', origin: 'local', ownerPid: 1 }],
      },
    })
    expect(focusedSession(state)?.id).toBe('s')
  })
})

describe('sparkline', () => {
  it('draws one block per value, scaled to the largest', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8)).toBe('▁▂▃▄▅▆▇█')
    expect(sparkline([0, 50, 100], 3, 100)).toBe('▁▅█')
  })

  it('right-aligns the newest values in the width', () => {
    expect(sparkline([1, 1], 5)).toBe('   ██')
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4, 10)).toBe('▆▇▇█')
    expect(sparkline([], 3)).toBe('   ')
    expect(sparkline([5], 0)).toBe('')
  })

  it('clamps to the scale and handles zeros and odd values', () => {
    expect(sparkline([0, 0], 2)).toBe('▁▁')
    expect(sparkline([-5, 200, Number.NaN], 3, 100)).toBe('▁█ ')
  })
})

describe('searchLog', () => {
  const log = ring([
    ['meta', '$ npm test'],
    ['stdout', 'PASS a.test.ts'],
    ['stderr', 'FAIL b.test.ts'],
    ['stdout', 'pass c.test.ts'],
    ['meta', 'exit 1 in 2.0 s'],
  ])

  it('finds the next match case-insensitively, wrapping round', () => {
    expect(searchLog(log, 'pass', -1, 'forward')).toBe(1)
    expect(searchLog(log, 'PASS', 1, 'forward')).toBe(3)
    expect(searchLog(log, 'pass', 3, 'forward')).toBe(1)
    expect(searchLog(log, 'pass', log.length, 'backward')).toBe(3)
    expect(searchLog(log, 'pass', 3, 'backward')).toBe(1)
    expect(searchLog(log, 'fail', 2)).toBe(2)
  })

  it('stops at the ends without wrap, and finds nothing for an empty query', () => {
    expect(searchLog(log, 'pass', 3, 'forward', false)).toBeUndefined()
    expect(searchLog(log, 'nowhere', 0)).toBeUndefined()
    expect(searchLog(log, '', 0)).toBeUndefined()
    expect(searchLog(createLogRing(5), 'x', -1)).toBeUndefined()
  })
})

describe('filterLog', () => {
  const log = ring([
    ['meta', '$ make'],
    ['stdout', 'cc a.c'],
    ['stderr', 'warning'],
    ['stdout', 'cc b.c'],
    ['meta', 'exit 0 in 1.0 s'],
  ])

  it('keeps the indexes of a stream, with the exec headers', () => {
    expect(filterLog(log, 'all')).toEqual([0, 1, 2, 3, 4])
    expect(filterLog(log, 'stdout')).toEqual([0, 1, 3, 4])
    expect(filterLog(log, 'stderr')).toEqual([0, 2, 4])
  })
})
