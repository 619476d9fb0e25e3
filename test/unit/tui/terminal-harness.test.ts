import { describe, expect, it } from 'vitest'
import { ui } from '../../../src/tui/blessed.js'
import { createFakeTerminal, keys } from '../../helpers/tui-terminal.js'

describe('the fake terminal the dashboard tests draw into', () => {
  it('shows what blessed drew, with borders and wide characters in the right columns', async () => {
    const t = createFakeTerminal(40, 8)
    const screen = ui.screen({
      input: t.input,
      output: t.output,
      terminal: 'xterm-256color',
      fullUnicode: true,
      warnings: false,
    })
    ui.box({
      parent: screen,
      top: 0,
      left: 0,
      width: 20,
      height: 4,
      border: 'line',
      label: ' pane ',
      tags: true,
      content: '{red-fg}日本{/red-fg} ok',
    })
    const typed: string[] = []
    screen.on('keypress', (_ch, key) => typed.push(key.full))
    screen.render()
    const text = await t.waitFor((s) => s.includes('日本 ok'))
    const rows = text.split('\n')
    expect(rows[0]).toMatch(/^┌─? ?pane ─+┐$/)
    // The right border stays in column 20 although the row holds two wide characters.
    expect(rows[1]?.length).toBeLessThanOrEqual(20)
    expect(rows[1]?.endsWith('│')).toBe(true)
    t.type(`a${keys.tab}${keys.up}`)
    await new Promise((r) => setTimeout(r, 50))
    expect(typed).toEqual(['a', 'tab', 'up'])
    screen.destroy()
  })
})
