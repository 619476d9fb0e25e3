import { describe, expect, it } from 'vitest'
import { createTimelinePane } from '../../../../src/tui/panes/timeline.js'
import type { TimelineEntry } from '../../../../src/tui/state/types.js'
import { createContext, draw, openScreen, place, sessionView, viewState } from './pane-fixtures.js'

const entry = (n: number, message: string, extra: Partial<TimelineEntry> = {}): TimelineEntry => ({
  commit: `${n}`.repeat(40).slice(0, 40),
  callId: `c${n}`,
  message,
  changed: [{ path: `f${n}.ts`, status: 'modified' }],
  at: 0,
  ...extra,
})

function setup() {
  const { term, screen } = openScreen(90, 10)
  const session = sessionView('s1', {
    timeline: [
      entry(3, 'edit_file: src/a.ts\n\nSession: s1', { added: 12, removed: 4, at: 100_000 }),
      entry(2, 'bash: npm test', {
        changed: [
          { path: 'a', status: 'added' },
          { path: 'b', status: 'modified' },
        ],
        at: 40_000,
      }),
      entry(1, 'snapshot: /projects/s1', { at: 0 }),
    ],
  })
  const state = viewState(session)
  const ctx = createContext(screen, () => state)
  const pane = createTimelinePane(ctx, { now: () => 220_000 })
  place(pane, 90, 10)
  return { term, screen, state, session, ctx, pane }
}

describe('the commit timeline', () => {
  it('lists commits newest first with id, tool, summary, files, +/- and age', async () => {
    const t = setup()
    const lines = await draw(t.term, t.screen, t.pane, t.state)
    expect(lines[0]).toContain('timeline · 3 commits')
    expect(lines[1]).toMatch(/▸ 3333333 edit_file\s+src\/a\.ts\s+1 file\s+\+12 -4\s+2m│$/)
    expect(lines[2]).toMatch(/ 2222222 bash\s+npm test\s+2 files\s+3m│$/)
    expect(lines[3]).toMatch(/ 1111111 snapshot\s+\/projects\/s1\s+1 file\s+3m│$/)
  })

  it('moves the selection and opens the selected commit with Enter', async () => {
    const t = setup()
    await draw(t.term, t.screen, t.pane, t.state)
    expect(t.pane.handle('down')).toBe(true)
    expect(t.pane.handle('down')).toBe(true)
    expect(t.pane.handle('down')).toBe(true)
    let lines = await draw(t.term, t.screen, t.pane, t.state)
    expect(lines[3]).toContain('▸ 1111111')
    t.pane.handle('up')
    t.pane.handle('timeline.open')
    expect(t.ctx.reviews).toEqual([{ sessionId: 's1', commit: '2'.repeat(40) }])

    // A new commit arrives: the selection stays on the commit the user chose.
    t.session.timeline = [entry(4, 'write_file: b.ts', { at: 200_000 }), ...t.session.timeline]
    t.state.version++
    lines = await draw(t.term, t.screen, t.pane, t.state)
    expect(lines[3]).toContain('▸ 2222222')
    t.pane.handle('top')
    t.pane.handle('open')
    expect(t.ctx.reviews.at(-1)).toEqual({ sessionId: 's1', commit: '4'.repeat(40) })
  })

  it('says when there is nothing yet', async () => {
    const t = setup()
    t.session.timeline = []
    const lines = await draw(t.term, t.screen, t.pane, t.state)
    expect(lines[1]).toContain('no commits yet')
    t.pane.handle('timeline.open')
    expect(t.ctx.reviews).toEqual([])
  })
})
