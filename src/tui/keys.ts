import { SafeCoderError } from '../shared/errors.js'
import { defaultActions, type Action, type ActionInfo } from './keymap.js'

export type Scope = ActionInfo['scope']

/** The keymap after `[tui.keys]`: which actions a key means, and which keys an action has. */
export interface Keymap {
  /** Actions bound to `key`: those of `scope` first, then the global ones. */
  lookup(key: string, scope: Scope): Action[]
  keysOf(action: Action): readonly string[]
  /** Every action with its resolved keys, in keymap.ts order. */
  entries(): readonly KeymapEntry[]
}

export interface KeymapEntry {
  action: Action
  keys: readonly string[]
  label: string
  scope: Scope
}

const namedKeys = new Set([
  'enter', 'escape', 'tab', 'space', 'backspace', 'delete', 'insert', 'up', 'down', 'left',
  'right', 'pageup', 'pagedown', 'home', 'end',
  ...Array.from({ length: 12 }, (_, i) => `f${i + 1}`),
]) // prettier-ignore

/**
 * Resolves the keymap: `overrides` (`[tui.keys]`, action → key or keys) replace an action's
 * default keys. Throws CONFIG_INVALID naming the action and the key for an unknown action, a
 * key blessed cannot produce, or a key bound twice in one scope.
 */
export function resolveKeymap(overrides: Record<string, string | string[]> = {}): Keymap {
  const keys = new Map<Action, readonly string[]>()
  for (const action of Object.keys(defaultActions) as Action[]) {
    keys.set(action, defaultActions[action].keys)
  }
  for (const [name, value] of Object.entries(overrides)) {
    const list = typeof value === 'string' ? [value] : value
    if (!isAction(name)) {
      throw configError(
        `[tui.keys] ${name} = ${JSON.stringify(value)}: there is no action "${name}"`,
        `Use one of: ${Object.keys(defaultActions).join(', ')}.`,
        { action: name, keys: list },
      )
    }
    for (const key of list) {
      if (!isKeyName(key)) {
        throw configError(
          `[tui.keys] ${name} = ${JSON.stringify(value)}: "${key}" is not a key name`,
          'Write keys as blessed names: a single character, "enter", "escape", "tab", "space", ' +
            '"up", "pageup", "f1"…, with "C-", "M-" or "S-" in front for Ctrl, Alt and Shift ' +
            '(e.g. "C-p", "S-tab").',
          { action: name, key },
        )
      }
    }
    keys.set(name, list)
  }
  const entries = [...keys].map(([action, k]) => ({
    action,
    keys: k,
    label: defaultActions[action].label,
    scope: defaultActions[action].scope,
  }))
  const byKey = indexByKey(entries, overrides)
  return {
    lookup(key, scope) {
      const local = scope === 'global' ? [] : (byKey.get(`${scope} ${key}`) ?? [])
      return [...local, ...(byKey.get(`global ${key}`) ?? [])]
    },
    keysOf: (action) => keys.get(action) ?? [],
    entries: () => entries,
  }
}

/** Builds "scope key" → actions, refusing one key for two actions in the same scope. */
function indexByKey(
  entries: readonly KeymapEntry[],
  overrides: Record<string, string | string[]>,
): Map<string, Action[]> {
  const byKey = new Map<string, Action[]>()
  for (const entry of entries) {
    for (const key of entry.keys) {
      const slot = `${entry.scope} ${key}`
      const taken = byKey.get(slot)?.[0]
      if (taken !== undefined) {
        const [mine, other] =
          entry.action in overrides ? [entry.action, taken] : [taken, entry.action]
        throw configError(
          `[tui.keys] ${mine}: "${key}" is already bound to ${other} (scope ${entry.scope})`,
          `Bind ${mine} to another key, or give ${other} other keys in [tui.keys] too.`,
          { action: mine, key, conflict: other },
        )
      }
      byKey.set(slot, [entry.action])
    }
  }
  return byKey
}

function isAction(name: string): name is Action {
  return Object.hasOwn(defaultActions, name)
}

/** `a`, `?`, `C-p`, `M-x`, `S-tab`, `C-S-up`, `f5`, … */
export function isKeyName(key: string): boolean {
  const base = key.replace(/^(?:[CMS]-)+/, '')
  if (base === '') return false
  if (Array.from(base).length === 1) return base.trim() !== ''
  return namedKeys.has(base)
}

/** How a key reads in the status bar and help: "Esc", "Ctrl-P", "Shift-Tab", "PgUp". */
export function displayKey(key: string): string {
  const words: Record<string, string> = {
    escape: 'Esc',
    enter: 'Enter',
    tab: 'Tab',
    space: 'Space',
    pageup: 'PgUp',
    pagedown: 'PgDn',
    backspace: 'Bksp',
    up: '↑',
    down: '↓',
    left: '←',
    right: '→',
  }
  const match = /^((?:[CMS]-)*)(.+)$/.exec(key)
  const mods = (match?.[1] ?? '').split('-').filter((m) => m !== '')
  const base = match?.[2] ?? key
  const names: Record<string, string> = { C: 'Ctrl', M: 'Alt', S: 'Shift' }
  const shown = words[base] ?? (base.length === 1 && mods.length > 0 ? base.toUpperCase() : base)
  return [...mods.map((m) => names[m] ?? m), shown].join('-')
}

function configError(message: string, hint: string, data: Record<string, unknown>): SafeCoderError {
  return new SafeCoderError('CONFIG_INVALID', message, { hint, data })
}
