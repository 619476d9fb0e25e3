import { describe, expect, it } from 'vitest'
import { isSafeCoderError } from '../../../../src/shared/errors.js'
import { displayKey, isKeyName, resolveKeymap } from '../../../../src/tui/keys.js'
import { defaultActions } from '../../../../src/tui/keymap.js'

describe('resolveKeymap', () => {
  it('looks a key up in the pane first, then globally', () => {
    const keymap = resolveKeymap()
    expect(keymap.lookup('n', 'log')).toEqual(['log.search-next', 'session-new'])
    expect(keymap.lookup('n', 'chat')).toEqual(['session-new'])
    expect(keymap.lookup('enter', 'chat')).toEqual(['chat.input', 'open'])
    expect(keymap.lookup('escape', 'review')).toEqual(['review.close', 'abort'])
    expect(keymap.entries().map((e) => e.action)).toEqual(Object.keys(defaultActions))
  })

  it('replaces the keys of an overridden action', () => {
    const keymap = resolveKeymap({ help: 'h', quit: ['q', 'C-q'] })
    expect(keymap.lookup('h', 'global')).toEqual(['help'])
    expect(keymap.lookup('?', 'global')).toEqual([])
    expect(keymap.keysOf('quit')).toEqual(['q', 'C-q'])
  })

  it('names the action and the key of a bad [tui.keys] entry', () => {
    const failure = (keys: Record<string, string | string[]>): Error => {
      try {
        resolveKeymap(keys)
      } catch (error) {
        expect(isSafeCoderError(error, 'CONFIG_INVALID')).toBe(true)
        return error as Error
      }
      throw new Error('no error')
    }
    expect(failure({ halp: 'h' }).message).toBe('[tui.keys] halp = "h": there is no action "halp"')
    expect(failure({ help: 'ctrl+h' }).message).toContain('help = "ctrl+h": "ctrl+h" is not a key')
    expect(failure({ help: 'q' }).message).toBe(
      '[tui.keys] help: "q" is already bound to quit (scope global)',
    )
  })

  it('accepts blessed key names', () => {
    for (const key of ['a', '?', 'G', 'C-p', 'S-tab', 'M-x', 'f5', 'pageup', 'escape', 'C-S-up']) {
      expect(isKeyName(key), key).toBe(true)
    }
    for (const key of ['', 'ctrl+p', 'Tab', 'C-', 'hello']) expect(isKeyName(key), key).toBe(false)
  })

  it('writes keys for people', () => {
    expect(['escape', 'C-p', 'S-tab', 'pageup', '?', 'enter'].map(displayKey)).toEqual([
      'Esc',
      'Ctrl-P',
      'Shift-Tab',
      'PgUp',
      '?',
      'Enter',
    ])
  })
})
