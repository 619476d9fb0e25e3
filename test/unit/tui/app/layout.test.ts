import { describe, expect, it } from 'vitest'
import { computeLayout, type Rect, type Region } from '../../../../src/tui/layout.js'

const panes: Region[] = ['sessions', 'gauges', 'chat', 'log', 'timeline']

function overlaps(a: Rect, b: Rect): boolean {
  return (
    a.left < b.left + b.width &&
    b.left < a.left + a.width &&
    a.top < b.top + b.height &&
    b.top < a.top + a.height
  )
}

describe('computeLayout', () => {
  it.each([
    [200, 50, 'wide'],
    [120, 40, 'medium'],
    [80, 24, 'compact'],
  ] as const)('at %i×%i (%s) tiles the screen without overlap', (cols, rows, mode) => {
    const layout = computeLayout(cols, rows)
    expect(layout.mode).toBe(mode)
    const rects = Object.entries(layout.regions)
    for (const [name, r] of rects) {
      expect(r.left, name).toBeGreaterThanOrEqual(0)
      expect(r.top, name).toBeGreaterThanOrEqual(0)
      expect(r.left + r.width, name).toBeLessThanOrEqual(cols)
      expect(r.top + r.height, name).toBeLessThanOrEqual(rows)
    }
    for (const [i, [a, ra]] of rects.entries()) {
      for (const [b, rb] of rects.slice(i + 1)) expect(overlaps(ra, rb), `${a} / ${b}`).toBe(false)
    }
    // Every cell belongs to exactly one region: the areas add up to the screen.
    expect(rects.reduce((sum, [, r]) => sum + r.width * r.height, 0)).toBe(cols * rows)
    for (const name of panes) {
      // Border, one row of content, and room for a title.
      expect(layout.regions[name].height, name).toBeGreaterThanOrEqual(3)
      expect(layout.regions[name].width, name).toBeGreaterThanOrEqual(20)
    }
    expect(layout.regions.status).toEqual({ left: 0, top: rows - 1, width: cols, height: 1 })
    expect(layout.body).toEqual({ left: 0, top: 0, width: cols, height: rows - 1 })
  })

  it('gives the chat the most room, and puts log and timeline to the right only when wide', () => {
    const wide = computeLayout(200, 50).regions
    expect(wide.log.left).toBeGreaterThan(wide.chat.left)
    expect(wide.log.top).toBe(0)
    const compact = computeLayout(80, 24).regions
    expect(compact.log.top).toBeGreaterThan(compact.chat.top)
    for (const r of [wide, compact]) {
      expect(r.chat.width * r.chat.height).toBeGreaterThan(r.log.width * r.log.height)
    }
  })

  it('stays on screen when the terminal is tiny', () => {
    for (const [cols, rows] of [
      [40, 10],
      [10, 4],
      [1, 1],
    ] as const) {
      for (const r of Object.values(computeLayout(cols, rows).regions)) {
        expect(r.width).toBeGreaterThanOrEqual(0)
        expect(r.height).toBeGreaterThanOrEqual(0)
        expect(r.left + r.width).toBeLessThanOrEqual(Math.max(cols, 1))
        expect(r.top + r.height).toBeLessThanOrEqual(Math.max(rows, 2))
      }
    }
  })
})
