import type { DisposableStore } from '../bus/disposable.js'
import type { SessionClient } from '../session/client.js'
import type { Screen } from './blessed.js'
import { ui } from './blessed.js'
import { displayKey, type Keymap } from './keys.js'
import type { Layout } from './layout.js'
import type { Modal } from './overlays/modal.js'
import { createChatPane, type ChatPane } from './panes/chat.js'
import { createGaugesPane } from './panes/gauges.js'
import { createLogPane } from './panes/log.js'
import { createReviewPane, type ReviewPane } from './panes/review.js'
import { createSessionsPane } from './panes/sessions.js'
import { createTimelinePane } from './panes/timeline.js'
import type { Pane, PaneContext, PaneId } from './panes/types.js'
import type { ViewState } from './state/types.js'
import type { Theme } from './theme.js'

/** The dashboard's panes: the tiled ones in Tab order, and the review over them. */
export interface PaneSet {
  /** Tiled panes, in Tab order. */
  readonly tiled: readonly Pane[]
  readonly chat: ChatPane
  readonly review: ReviewPane
  readonly reviewOpen: boolean
  /** Draws the panes that need it: all when the state moved, else those that asked. */
  render(state: ViewState, moved: boolean): void
  layout(layout: Layout): void
}

export interface PaneSetOptions {
  screen: Screen
  theme: Theme
  keymap: Keymap
  client: SessionClient
  state: () => ViewState
  request: () => void
  notify: PaneContext['notify']
  modal: Modal
  focusSession: (id: string) => void
  /** Owns the panes: disposing it disposes every one. */
  store: DisposableStore
}

export function createPanes(options: PaneSetOptions): PaneSet {
  const dirty = new Set<PaneId>()
  // The review opens from other panes' contexts, so those are made before it exists.
  const later: { review?: ReviewPane } = {}
  const ctxFor = (id: PaneId): PaneContext => ({
    screen: options.screen,
    client: options.client,
    theme: options.theme,
    state: () => options.state(),
    invalidate() {
      dirty.add(id)
      options.request()
    },
    notify: (level, text) => {
      options.notify(level, text)
    },
    confirm: (question) => options.modal.confirm(question),
    ask: (question, initial) => options.modal.ask(question, initial),
    openReview(sessionId, commit) {
      void later.review?.open(sessionId, commit)
    },
  })
  // Each pane joins the app's store as it is made, so a failure half-way still releases it.
  const { store } = options
  const passKeys = ['focus-next', 'focus-prev', 'force-quit'] as const
  const sessions = store.add(
    createSessionsPane(ctxFor('sessions'), {
      focusSession: (id) => {
        options.focusSession(id)
      },
    }),
  )
  const chat = store.add(
    createChatPane(ctxFor('chat'), {
      passKeys: passKeys.flatMap((a) => options.keymap.keysOf(a)),
      keyName: (action) => displayKey(options.keymap.keysOf(action)[0] ?? action),
    }),
  )
  const log = store.add(createLogPane(ctxFor('log')))
  const timeline = store.add(createTimelinePane(ctxFor('timeline')))
  const gauges = store.add(createGaugesPane(ctxFor('gauges')))
  const reviewPane = store.add(createReviewPane(ctxFor('review')))
  later.review = reviewPane
  const tiled: Pane[] = [sessions, chat, log, timeline, gauges]
  const all = [...tiled, reviewPane]

  return {
    tiled,
    chat,
    review: reviewPane,
    get reviewOpen() {
      return reviewPane.visible
    },
    render(state, moved) {
      for (const pane of all) {
        if (pane.box.hidden) continue
        if (moved || dirty.has(pane.id)) pane.render(state)
      }
      dirty.clear()
    },
    layout(layout) {
      const r = layout.regions
      ui.place(sessions.box, r.sessions)
      ui.place(chat.box, r.chat)
      ui.place(log.box, r.log)
      ui.place(timeline.box, r.timeline)
      ui.place(gauges.box, r.gauges)
      ui.place(reviewPane.box, layout.body)
      for (const pane of all) dirty.add(pane.id)
    },
  }
}
