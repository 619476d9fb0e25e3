/**
 * Every action of the dashboard with its default keys (blessed key names: "C-c", "S-tab",
 * "escape", "enter", "space", "pageup", letters). `[tui.keys]` in the config replaces an
 * action's keys. Pane actions are looked up first for the focused pane, then global ones.
 */
export interface ActionInfo {
  keys: readonly string[]
  /** For the help overlay and the status bar. */
  label: string
  /** Where the action applies: `global`, or the pane it belongs to. */
  scope: 'global' | 'chat' | 'log' | 'gauges' | 'timeline' | 'sessions' | 'review'
}

export const defaultActions = {
  quit: { keys: ['q'], label: 'quit (asks about unsynced work)', scope: 'global' },
  'force-quit': { keys: ['C-c'], label: 'twice: quit now, work kept', scope: 'global' },
  help: { keys: ['?'], label: 'help: every key', scope: 'global' },
  palette: { keys: [':', 'C-p'], label: 'command palette', scope: 'global' },
  'focus-next': { keys: ['tab'], label: 'next pane', scope: 'global' },
  'focus-prev': { keys: ['S-tab'], label: 'previous pane', scope: 'global' },
  'session-next': { keys: [']'], label: 'next session', scope: 'global' },
  'session-prev': { keys: ['['], label: 'previous session', scope: 'global' },
  'session-new': { keys: ['n'], label: 'new session (asks for a path)', scope: 'global' },
  'session-close': { keys: ['x'], label: 'close session (asks about its work)', scope: 'global' },
  'session-pick': {
    keys: ['1', '2', '3', '4', '5', '6', '7', '8', '9'],
    label: 'session by number',
    scope: 'global',
  },
  abort: { keys: ['escape'], label: 'cancel the running turn', scope: 'global' },
  mouse: { keys: ['m'], label: 'toggle mouse capture', scope: 'global' },
  'allow-host': {
    keys: ['a'],
    label: 'allow the host the proxy last refused (asks)',
    scope: 'global',
  },
  review: { keys: ['d'], label: "review the session's changes", scope: 'global' },

  up: { keys: ['up', 'k'], label: 'up', scope: 'global' },
  down: { keys: ['down', 'j'], label: 'down', scope: 'global' },
  'page-up': { keys: ['pageup', 'C-b'], label: 'page up', scope: 'global' },
  'page-down': { keys: ['pagedown', 'C-f'], label: 'page down', scope: 'global' },
  top: { keys: ['g', 'home'], label: 'top', scope: 'global' },
  bottom: { keys: ['G', 'end'], label: 'bottom (log: follow again)', scope: 'global' },
  open: { keys: ['enter'], label: 'open', scope: 'global' },

  'chat.input': { keys: ['i', 'enter'], label: 'type a message', scope: 'chat' },
  'log.search': { keys: ['/'], label: 'search', scope: 'log' },
  'log.search-next': { keys: ['n'], label: 'next match', scope: 'log' },
  'log.search-prev': { keys: ['N'], label: 'previous match', scope: 'log' },
  'log.filter': { keys: ['f'], label: 'filter: all / stdout / stderr', scope: 'log' },
  'log.follow': { keys: ['F'], label: 'follow on/off', scope: 'log' },
  'timeline.open': { keys: ['enter'], label: "open the commit's diff", scope: 'timeline' },

  'review.next-file': { keys: ['J'], label: 'next file', scope: 'review' },
  'review.prev-file': { keys: ['K'], label: 'previous file', scope: 'review' },
  'review.next-hunk': { keys: ['n'], label: 'next hunk', scope: 'review' },
  'review.prev-hunk': { keys: ['p'], label: 'previous hunk', scope: 'review' },
  'review.toggle': { keys: ['space'], label: 'accept / reject file', scope: 'review' },
  'review.reject-hunk': {
    keys: ['h'],
    label: 'reject the current hunk (reverts it, asks)',
    scope: 'review',
  },
  'review.revert': { keys: ['r'], label: 'revert commit or file (asks)', scope: 'review' },
  'review.sync': { keys: ['s'], label: 'sync plan, then apply (asks)', scope: 'review' },
  'review.undo': { keys: ['u'], label: 'undo the last sync (asks)', scope: 'review' },
  'review.view': { keys: ['v'], label: 'unified / side by side', scope: 'review' },
  'review.close': { keys: ['escape', 'q'], label: 'close the review', scope: 'review' },
} as const satisfies Record<string, ActionInfo>

export type Action = keyof typeof defaultActions
