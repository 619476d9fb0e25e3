import { describe, expect, it } from 'vitest'
import { findLine, rowsFrom, step, tailRows } from '../../../../src/tui/panes/log-view.js'
import { clip, clipStart, displayWidth, fit } from '../../../../src/tui/panes/text-fit.js'
import { createLogRing } from '../../../../src/tui/state/ring.js'

// 10 held of 14 pushed: absolute lines 4…13; every third one is stderr.
function ring() {
  const r = createLogRing(10)
  for (let i = 0; i < 14; i++) {
    r.push({ execId: 'e', stream: i % 3 === 0 ? 'stderr' : 'stdout', text: `line ${i}` })
  }
  return r
}

describe('log navigation by absolute line', () => {
  it('takes the tail and pages forward through the filter', () => {
    const r = ring()
    expect(tailRows(r, 'all', 3)).toEqual([11, 12, 13])
    expect(tailRows(r, 'stderr', 3)).toEqual([6, 9, 12])
    // Lines that fell off the ring are skipped.
    expect(rowsFrom(r, 'all', 0, 2)).toEqual([4, 5])
    expect(step(r, 'stderr', 12, -2)).toBe(6)
    expect(step(r, 'all', 5, -10)).toBe(4)
    expect(step(r, 'all', 12, 10)).toBe(13)
  })

  it('finds lines both ways and wraps around once', () => {
    const r = ring()
    expect(findLine(r, 'all', 'line 1', 9, 1)).toEqual({ abs: 10, wrapped: false })
    expect(findLine(r, 'all', 'LINE 5', 9, 1)).toBeUndefined()
    expect(findLine(r, 'all', 'line 5', 9, 1)).toEqual({ abs: 5, wrapped: true })
    expect(findLine(r, 'all', 'line 13', 5, -1)).toEqual({ abs: 13, wrapped: true })
    expect(findLine(r, 'stdout', 'line 9', 3, 1)).toBeUndefined()
  })
})

describe('column arithmetic', () => {
  it('counts CJK as two columns and cuts without splitting a character', () => {
    expect(displayWidth('日本 ok')).toBe(7)
    expect(clip('日本語', 5)).toBe('日本')
    expect(fit('日本語', 5)).toBe('日本 ')
    expect(clipStart('src/deep/path/file.ts', 10)).toBe('…h/file.ts')
  })
})
