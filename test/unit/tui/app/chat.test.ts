import { describe, expect, it } from 'vitest'
import { keys } from '../../../helpers/tui-terminal.js'
import { inputLine, openRig, statusLine } from './dashboard-fixture.js'

describe('the chat pane', () => {
  it('sends a typed prompt and shows the streamed answer and compact tool lines', async () => {
    const rig = openRig()
    rig.client.onPrompt = (id, text) => {
      rig.client.playTurn(id, text, {
        text: ['Running ', 'the tests.'],
        tools: [
          { tool: 'bash', args: 'npm test', ms: 1200 },
          { tool: 'edit_file', args: 'src/a.ts', isError: true, ms: 40 },
        ],
      })
      return Promise.resolve()
    }
    expect(statusLine(await rig.press('i'))).toContain('Enter send')
    const screen = await rig.press(`hello {red-fg}agent${keys.enter}`)
    expect(rig.client.callsOf('prompt')).toEqual([['s1', 'hello {red-fg}agent']])
    // Markup typed by the user (or sent by the model) is shown, never obeyed.
    expect(screen).toContain('› hello {red-fg}agent')
    expect(screen).toContain('Running the tests.')
    expect(screen).toMatch(/> bash npm test +ok 1\.2 s│/)
    expect(screen).toMatch(/> edit_file src\/a\.ts +error 40 ms│/)
    // The input is cleared and still has the keys.
    expect(inputLine(screen)).toBe('›')
  })

  it('recalls earlier prompts with up and down while typing', async () => {
    const rig = openRig()
    await rig.press('i')
    await rig.press(`first${keys.enter}`)
    await rig.press(`second${keys.enter}`)
    await rig.press(`draft`)
    let screen = await rig.press(keys.up)
    expect(inputLine(screen)).toBe('› second')
    screen = await rig.press(keys.up)
    expect(inputLine(screen)).toBe('› first')
    screen = await rig.press(keys.down + keys.down)
    expect(inputLine(screen)).toBe('› draft')
  })

  it('follows new text unless scrolled up', async () => {
    const rig = openRig({ columns: 80, rows: 24 })
    rig.client.playTurn('s1', 'count', {
      text: [Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n')],
    })
    let screen = await rig.screen()
    expect(screen).toContain('line 39')
    screen = await rig.press('kkkkk')
    expect(screen).toContain('scrolled 5 up')
    expect(screen).not.toContain('line 39')
    rig.client.playTurn('s1', 'more', { text: ['newest'] })
    screen = await rig.screen()
    expect(screen).not.toContain('newest')
    screen = await rig.press('G')
    expect(screen).toContain('newest')
  })

  it('Esc cancels the running turn, from the input and from the pane', async () => {
    const rig = openRig()
    rig.client.playTurn('s1', 'long job', { open: true })
    await rig.press('i')
    await rig.press(keys.escape)
    expect(rig.client.callsOf('abort')).toEqual([['s1']])
    // Still typing: the input kept the keys.
    expect(statusLine(await rig.screen())).toContain('Enter send')
    await rig.press(keys.tab)
    await rig.press(keys.escape)
    expect(rig.client.callsOf('abort')).toHaveLength(2)
  })

  it('leaves the input with Esc when no turn runs, and Tab moves on', async () => {
    const rig = openRig()
    await rig.press('i')
    expect(statusLine(await rig.press(keys.escape))).toContain('i type')
    await rig.press('i')
    const screen = await rig.press(`ab${keys.tab}`)
    expect(screen).toContain('[log · following]')
    expect(inputLine(screen)).toBe('› ab')
    expect(rig.client.callsOf('abort')).toEqual([])
  })

  it('shows a failed prompt as a notice', async () => {
    const rig = openRig()
    rig.client.onPrompt = () => Promise.reject(new Error('the sandbox is gone'))
    await rig.press('i')
    const screen = await rig.press(`hi${keys.enter}`)
    expect(statusLine(screen)).toContain('error: the sandbox is gone')
  })
})
