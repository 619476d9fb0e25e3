import { describe, expect, it } from 'vitest'
import { keys } from '../../../helpers/tui-terminal.js'
import { openRig, statusLine } from './dashboard-fixture.js'

const ESC = '\x1b'
const titles = ['sessions', 'chat', 'log', 'timeline', 'resources']

describe('the dashboard', () => {
  it('draws every pane with its title, and the status bar', async () => {
    const rig = openRig()
    const screen = await rig.screen()
    for (const title of titles) expect(screen).toMatch(new RegExp(`(─ |\\[)${title}`))
    expect(screen).toContain('>*1 alpha')
    expect(statusLine(screen)).toMatch(/1\/1 alpha · docker · idle │ chat · i type .* \? help/)
  })

  it('keeps every title visible when resized to 80×24, and back', async () => {
    const rig = openRig({ columns: 160, rows: 48 })
    await rig.screen()
    rig.term.resize(80, 24)
    let screen = await rig.screen()
    expect(screen.split('\n')).toHaveLength(24)
    for (const title of titles) expect(screen).toMatch(new RegExp(`(─ |\\[)${title}`))
    for (const row of screen.split('\n')) expect(row.length).toBeLessThanOrEqual(80)
    rig.term.resize(200, 50)
    screen = await rig.screen()
    for (const title of titles) expect(screen).toMatch(new RegExp(`(─ |\\[)${title}`))
  })

  it('cycles the focus with Tab and Shift-Tab, marking the focused title', async () => {
    const rig = openRig()
    expect(await rig.screen()).toContain('[chat · alpha]')
    let screen = await rig.press(keys.tab)
    expect(screen).toContain('[log · following]')
    expect(screen).not.toContain('[chat')
    expect(statusLine(screen)).toContain('│ log · / search')
    screen = await rig.press(keys.tab + keys.tab + keys.tab)
    expect(screen).toContain('[sessions]')
    screen = await rig.press(keys.shiftTab)
    expect(screen).toContain('[resources]')
  })

  it('switches sessions with ] [ and digits', async () => {
    const rig = openRig({ sessions: ['/work/alpha', '/work/beta'] })
    expect(statusLine(await rig.screen())).toContain('1/2 alpha')
    expect(statusLine(await rig.press(']'))).toContain('2/2 beta')
    expect(statusLine(await rig.press(']'))).toContain('1/2 alpha')
    expect(statusLine(await rig.press('['))).toContain('2/2 beta')
    expect(statusLine(await rig.press('1'))).toContain('1/2 alpha')
    const screen = await rig.press('2')
    expect(screen).toContain('[chat · beta]')
    expect(screen).toContain('*2 beta')
    expect(statusLine(await rig.press('7'))).toContain('there is no session 7')
  })

  it('focuses a session from the sessions pane with up/down and Enter', async () => {
    const rig = openRig({ sessions: ['/work/alpha', '/work/beta'], attach: 's2' })
    expect(statusLine(await rig.screen())).toContain('2/2 beta')
    await rig.press(keys.shiftTab)
    await rig.press(keys.up)
    const screen = await rig.press(keys.enter)
    expect(statusLine(screen)).toContain('1/2 alpha')
  })

  it('starts a session on the path asked for', async () => {
    const rig = openRig({ env: { PWD: '/work/gamma' } })
    expect(await rig.press('n')).toContain('Start a session on which project directory?')
    const screen = await rig.press(keys.enter)
    expect(rig.client.callsOf('create')).toEqual([['/work/gamma']])
    expect(statusLine(screen)).toContain('2/2 gamma')
  })

  it('toggles the mouse', async () => {
    const rig = openRig()
    expect(statusLine(await rig.press('m'))).toContain('mouse on')
    expect(statusLine(await rig.press('m'))).toContain('mouse off')
  })
})

describe('the dashboard under NO_COLOR and with the mouse', () => {
  it('draws no colour at all under NO_COLOR, and marks the focus in text', async () => {
    const rig = openRig({ env: { NO_COLOR: '1' } })
    rig.client.playTurn('s1', 'x', { tools: [{ tool: 'bash', args: 'ls', isError: true }] })
    await rig.press('?')
    await rig.press(keys.escape)
    const screen = await rig.press(keys.tab)
    expect(screen).toContain('[log · following]')
    expect(screen).toMatch(/> bash ls +error/)
    // SGR colours: 30–38, 40–48, 90–97, 100–107 (38;5;n and 48;5;n included).
    const sgr = new RegExp(
      `${ESC}\\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m`,
      'g',
    )
    const colours = rig.written.match(sgr)
    expect(colours).toBeNull()
  })

  it('focuses a pane on a click and scrolls with the wheel once the mouse is on', async () => {
    const rig = openRig({ config: { mouse: true } })
    rig.client.playTurn('s1', 'count', {
      text: [Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n')],
    })
    await rig.screen()
    // SGR mouse reports, 1-based: press and release inside the log pane (left 29, top 21).
    await rig.press('\x1b[<0;41;26M')
    let screen = await rig.press('\x1b[<0;41;26m')
    expect(screen).toContain('[log · following]')
    // The wheel over the chat (rows 1–19) scrolls it up.
    screen = await rig.press('\x1b[<64;60;10M')
    expect(screen).toMatch(/scrolled \d+ up/)
  })
})
