import { describe, expect, it } from 'vitest'
import { isSafeCoderError } from '../../../../src/shared/errors.js'
import { defaultActions } from '../../../../src/tui/keymap.js'
import { keys } from '../../../helpers/tui-terminal.js'
import { openRig, statusLine } from './dashboard-fixture.js'

describe('the help overlay', () => {
  it('lists every action of the keymap, grouped by scope', async () => {
    const rig = openRig({ columns: 120, rows: 70 })
    const screen = await rig.press('?')
    expect(screen).toContain('help: every key')
    for (const action of Object.keys(defaultActions)) expect(screen).toContain(`(${action})`)
    for (const scope of ['global', 'chat', 'log', 'timeline', 'review']) {
      expect(screen).toMatch(new RegExp(`│ *${scope} *│`))
    }
    expect(screen).toMatch(/\?, *help: every key|\? +help: every key/)
  })

  it('filters by typing, and closes with Esc', async () => {
    const rig = openRig()
    await rig.press('?')
    let screen = await rig.press('sync p')
    expect(screen).toContain('filter: sync p')
    expect(screen).toContain('(review.sync)')
    expect(screen).not.toContain('(quit)')
    screen = await rig.press(keys.escape)
    expect(screen).not.toContain('help: every key')
    // The keys reach the panes again.
    expect(statusLine(await rig.press(']'))).toContain('1/1 alpha')
  })

  it('scrolls when the list is longer than the screen', async () => {
    const rig = openRig({ columns: 80, rows: 24 })
    let screen = await rig.press('?')
    expect(screen).not.toContain('(review.close)')
    screen = await rig.press(keys.pageDown + keys.pageDown + keys.pageDown + keys.pageDown)
    expect(screen).toContain('(review.close)')
  })

  it('follows [tui.keys]: an override changes the key and the help', async () => {
    const rig = openRig({ config: { keys: { help: 'h', quit: ['q', 'C-q'] } } })
    expect(await rig.press('?')).not.toContain('help: every key')
    const screen = await rig.press('h')
    expect(screen).toContain('help: every key')
    expect(screen).toMatch(/q, Ctrl-Q +quit/)
    expect(statusLine(screen)).toContain('h help')
  })

  it('refuses an unknown action in [tui.keys] before touching the terminal', () => {
    let caught: unknown
    try {
      openRig({ config: { keys: { halp: 'h' } } })
    } catch (error) {
      caught = error
    }
    expect(isSafeCoderError(caught, 'CONFIG_INVALID')).toBe(true)
    expect((caught as Error).message).toBe('[tui.keys] halp = "h": there is no action "halp"')
  })
})

describe('the command palette', () => {
  it('filters actions fuzzily and runs the chosen one', async () => {
    const rig = openRig({ sessions: ['/work/alpha', '/work/beta'] })
    let screen = await rig.press(':')
    expect(screen).toContain('command palette')
    screen = await rig.press('nxt sess')
    expect(screen).toMatch(/> next session +\]/)
    expect(screen).not.toContain('quit (asks')
    screen = await rig.press(keys.enter)
    expect(screen).not.toContain('command palette')
    expect(statusLine(screen)).toContain('2/2 beta')
  })

  it('runs a pane action in its pane, and opens with Ctrl-P', async () => {
    const rig = openRig()
    await rig.press(keys.ctrlP)
    await rig.press('follow on')
    const screen = await rig.press(keys.enter)
    expect(screen).toContain('[log · paused')
  })

  it('moves the selection with the arrows and closes with Esc', async () => {
    const rig = openRig()
    await rig.press(':')
    let screen = await rig.press('session')
    const first = /> ([a-z ]+)/.exec(screen)?.[1]
    screen = await rig.press(keys.down)
    expect(/> ([a-z ]+)/.exec(screen)?.[1]).not.toBe(first)
    screen = await rig.press(keys.escape)
    expect(screen).not.toContain('command palette')
  })
})

describe('the review', () => {
  it('opens over the panes with d, takes the keys, and closes with q', async () => {
    const rig = openRig()
    await rig.press('d')
    await rig.client.waitForCall('diff')
    expect(rig.client.callsOf('diff')[0]).toEqual(['s1', undefined])
    let screen = await rig.screen()
    expect(screen).not.toContain('[chat · alpha]')
    // q closes the review (its own key), not the dashboard.
    screen = await rig.press('q')
    expect(screen).toContain('[chat · alpha]')
    // And the keys are the dashboard's again.
    await rig.press('q')
    await rig.dashboard.done
  })
})
