import { describe, expect, it } from 'vitest'
import { createLogPane } from '../../../../src/tui/panes/log.js'
import { createLogRing } from '../../../../src/tui/state/ring.js'
import type { LogLine } from '../../../../src/tui/state/types.js'
import {
  createContext,
  draw,
  openScreen,
  place,
  settle,
  sessionView,
  viewState,
  writableLog,
} from './pane-fixtures.js'

function setup(options: { noColor?: boolean; capacity?: number } = {}) {
  const { term, screen } = openScreen(60, 12)
  const session = sessionView('s1', { log: createLogRing(options.capacity ?? 1000) })
  const state = viewState(session)
  const ctx = createContext(screen, () => state, options)
  const pane = createLogPane(ctx)
  place(pane, 60, 12)
  const log = writableLog(session)
  const push = (text: string, stream: LogLine['stream'] = 'stdout'): void => {
    log.push({ execId: 'e1', stream, text })
    state.version++
  }
  const show = () => draw(term, screen, pane, state)
  return { term, screen, state, ctx, pane, push, show, log }
}

const body = (lines: string[]): string[] => lines.slice(1, 11).map((l) => l.slice(1, -1).trimEnd())

describe('the process log pane', () => {
  it('follows the newest lines, pauses when scrolled up, and G follows again', async () => {
    const t = setup()
    for (let i = 0; i < 30; i++) t.push(`line ${i}`)
    let lines = await t.show()
    expect(lines[0]).toContain('following')
    expect(body(lines)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${20 + i}`))

    expect(t.pane.handle('up')).toBe(true)
    t.push('line 30')
    lines = await t.show()
    expect(lines[0]).toContain('paused (G to follow)')
    expect(lines[0]).toContain('1 new')
    expect(body(lines)[0]).toBe('line 19')
    expect(body(lines)).not.toContain('line 30')

    t.pane.handle('page-up')
    t.pane.handle('top')
    expect(body(await t.show())[0]).toBe('line 0')

    t.pane.handle('bottom')
    lines = await t.show()
    expect(lines[0]).toContain('following')
    expect(body(lines).at(-1)).toBe('line 30')
  })

  it('F toggles follow, and scrolling down stops at the newest page', async () => {
    const t = setup()
    for (let i = 0; i < 15; i++) t.push(`line ${i}`)
    await t.show()
    t.pane.handle('log.follow')
    expect((await t.show())[0]).toContain('paused')
    t.pane.handle('page-down')
    t.pane.handle('page-down')
    expect(body(await t.show()).at(-1)).toBe('line 14')
    t.pane.handle('log.follow')
    expect((await t.show())[0]).toContain('following')
  })

  it('searches: / jumps to the match and highlights it, n and N go on', async () => {
    const t = setup()
    for (let i = 0; i < 100; i++) t.push(i % 25 === 3 ? `needle ${i}` : `hay ${i}`)
    await t.show()
    t.ctx.askAnswers.push('needle')
    t.pane.handle('log.search')
    await expect.poll(() => t.ctx.questions.length).toBe(1)
    await expect.poll(async () => (await t.show())[0]).toContain('/needle')
    let lines = await t.show()
    // The view starts at line 90 (the last page); the next match forward wraps to the top.
    expect(body(lines)).toContain('needle 3')
    expect(t.ctx.notices.at(-1)?.text).toMatch(/continued from the top/)
    // Matches are drawn in inverse video, the current one also underlined.
    expect(t.pane.box.content).toContain('{inverse}{underline}needle{/underline}{/inverse} 3')

    t.pane.handle('log.search-next')
    lines = await t.show()
    expect(body(lines)).toContain('needle 28')
    t.pane.handle('log.search-prev')
    t.pane.handle('log.search-prev')
    lines = await t.show()
    expect(body(lines)).toContain('needle 78')
  })

  it('says when nothing matches', async () => {
    const t = setup()
    t.push('alpha')
    await t.show()
    t.ctx.askAnswers.push('zzz')
    t.pane.handle('log.search')
    await expect.poll(() => t.ctx.notices.at(-1)?.text).toMatch(/no log line matches "zzz"/)
  })

  it('cycles the filter all / stdout / stderr and keeps exec headers', async () => {
    const t = setup()
    t.push('$ npm test', 'meta')
    t.push('out one')
    t.push('err one', 'stderr')
    t.push('out two')
    t.push('exit 1 in 2 s', 'meta')
    t.pane.handle('log.filter')
    let lines = await t.show()
    expect(lines[0]).toContain('stdout only')
    expect(body(lines).filter((l) => l !== '')).toEqual([
      '$ npm test',
      'out one',
      'out two',
      'exit 1 in 2 s',
    ])
    t.pane.handle('log.filter')
    lines = await t.show()
    expect(lines[0]).toContain('stderr only')
    expect(body(lines).filter((l) => l !== '')).toEqual(['$ npm test', 'err one', 'exit 1 in 2 s'])
    t.pane.handle('log.filter')
    expect((await t.show())[0]).not.toContain('only')
  })

  it('marks stderr in text under NO_COLOR, and escapes markup from the sandbox', async () => {
    const t = setup({ noColor: true })
    t.push('plain out')
    t.push('bad thing', 'stderr')
    t.push('{red-fg}not a tag{/red-fg}')
    const lines = body(await t.show())
    expect(lines).toContain('err│bad thing')
    expect(lines).toContain('plain out')
    expect(lines).toContain('{red-fg}not a tag{/red-fg}')
  })

  it('draws a frame of a 100,000-line flood by touching only the visible rows', async () => {
    const t = setup({ capacity: 10_000 })
    for (let i = 0; i < 100_000; i++) t.log.push({ execId: 'e1', stream: 'stdout', text: `l${i}` })
    t.state.version++
    const frames: number[] = []
    for (let frame = 0; frame < 20; frame++) {
      for (let i = 0; i < 500; i++)
        t.log.push({ execId: 'e1', stream: 'stdout', text: `more ${i}` })
      t.state.version++
      const start = performance.now()
      t.pane.render(t.state)
      t.screen.render()
      frames.push(performance.now() - start)
    }
    expect(body(await settle(t.term)).at(-1)).toBe('more 499')
    frames.sort((a, b) => a - b)
    // The median frame; loosely bounded so a busy CI machine does not flake.
    expect(frames[10]).toBeLessThan(20)
  })
})
