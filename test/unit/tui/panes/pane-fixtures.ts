import { onTestFinished } from 'vitest'
import type {
  FileDiffView,
  SessionClient,
  SyncPlanView,
  TimelineCommit,
} from '../../../../src/session/client.js'
import { ui, type Screen } from '../../../../src/tui/blessed.js'
import type { Pane, PaneContext } from '../../../../src/tui/panes/types.js'
import { createLogRing, type WritableLogRing } from '../../../../src/tui/state/ring.js'
import type { SessionView, ViewState } from '../../../../src/tui/state/types.js'
import { createTheme } from '../../../../src/tui/theme.js'
import { createFakeTerminal, type FakeTerminal } from '../../../helpers/tui-terminal.js'

/** A blessed screen drawing into a fake terminal, destroyed when the test ends. */
export function openScreen(columns: number, rows: number): { term: FakeTerminal; screen: Screen } {
  const term = createFakeTerminal(columns, rows)
  const screen = ui.screen({
    input: term.input,
    output: term.output,
    terminal: 'xterm-256color',
    fullUnicode: true,
    warnings: false,
  })
  onTestFinished(() => {
    screen.destroy()
  })
  return { term, screen }
}

export function sessionView(id: string, overrides: Partial<SessionView> = {}): SessionView {
  return {
    id,
    projectPath: `/projects/${id}`,
    backend: 'docker',
    origin: 'local',
    status: 'idle',
    unsynced: 0,
    chat: [],
    log: createLogRing(1000),
    execs: {},
    stats: { cpuPercent: [], memoryBytes: [] },
    timeline: [],
    approvals: [],
    usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
    ...overrides,
  }
}

export function viewState(...sessions: SessionView[]): ViewState {
  return {
    sessions: Object.fromEntries(sessions.map((s) => [s.id, s])),
    order: sessions.map((s) => s.id),
    focused: sessions[0]?.id,
    version: 1,
  }
}

export function writableLog(session: SessionView): WritableLogRing {
  return session.log as WritableLogRing
}

/** Answers the client gives; calls are recorded in order. */
export interface FakeClient extends SessionClient {
  calls: { method: string; args: unknown[] }[]
  callsOf(method: keyof SessionClient): unknown[][]
  /** By commit; '' is the whole session. */
  diffs: Map<string, FileDiffView[]>
  commits: TimelineCommit[]
  plan: SyncPlanView
}

export function createClient(): FakeClient {
  const calls: { method: string; args: unknown[] }[] = []
  const record = (method: string, ...args: unknown[]): void => {
    calls.push({ method, args })
  }
  const client: FakeClient = {
    calls,
    callsOf: (method) => calls.filter((c) => c.method === method).map((c) => c.args),
    diffs: new Map(),
    commits: [],
    plan: { projectPath: '/projects/s1', items: [], conflicts: 0, risky: 0, text: '' },
    list: () => [],
    create: () => Promise.resolve('s2'),
    close: () => Promise.resolve(),
    prompt: () => Promise.resolve(),
    abort: () => undefined,
    approve: () => undefined,
    timeline(id) {
      record('timeline', id)
      return Promise.resolve(client.commits)
    },
    diff(id, commit) {
      record('diff', id, commit)
      return Promise.resolve(client.diffs.get(commit ?? '') ?? [])
    },
    unsynced: () => Promise.resolve(0),
    revert(id, target) {
      record('revert', id, target)
      return Promise.resolve({ commit: 'f00dfeed' })
    },
    planSync(id, options) {
      record('planSync', id, options)
      return Promise.resolve(client.plan)
    },
    applySync(id) {
      record('applySync', id)
      return Promise.resolve({
        applied: 2,
        conflicts: [],
        journal: 'j1',
        text: 'applied 2 changes',
      })
    },
    undoSync(id) {
      record('undoSync', id)
      return Promise.resolve({ restored: 2 })
    },
    allowHost(id, host, port) {
      record('allowHost', id, host, port)
      return Promise.resolve()
    },
  }
  return client
}

/** A PaneContext whose modal answers are queued by the test and whose effects are recorded. */
export interface FakeContext extends PaneContext {
  notices: { level: string; text: string }[]
  questions: string[]
  /** Answers for `confirm` (default true) and `ask` (default undefined), taken in order. */
  confirmAnswers: boolean[]
  askAnswers: (string | undefined)[]
  reviews: { sessionId: string; commit?: string | undefined }[]
  invalidations: number
}

export function createContext(
  screen: Screen,
  state: () => ViewState,
  options: { noColor?: boolean; client?: SessionClient } = {},
): FakeContext {
  const ctx: FakeContext = {
    screen,
    client: options.client ?? createClient(),
    theme: createTheme(options.noColor === true ? { NO_COLOR: '1' } : {}),
    state,
    notices: [],
    questions: [],
    confirmAnswers: [],
    askAnswers: [],
    reviews: [],
    invalidations: 0,
    invalidate: () => {
      ctx.invalidations++
    },
    notify: (level, text) => {
      ctx.notices.push({ level, text })
    },
    confirm: (question) => {
      ctx.questions.push(question)
      return Promise.resolve(ctx.confirmAnswers.shift() ?? true)
    },
    ask: (question) => {
      ctx.questions.push(question)
      return Promise.resolve(ctx.askAnswers.shift())
    },
    openReview: (sessionId, commit) => {
      ctx.reviews.push({ sessionId, commit })
    },
  }
  return ctx
}

/** Places a pane's box like the layout would, draws it, and waits for the terminal. */
export async function draw(
  term: FakeTerminal,
  screen: Screen,
  pane: Pane,
  state: ViewState,
): Promise<string[]> {
  pane.render(state)
  screen.render()
  return settle(term)
}

/** blessed buffers its writes until the next tick; then xterm parses them. */
export async function settle(term: FakeTerminal): Promise<string[]> {
  await new Promise((resolve) => setImmediate(resolve))
  await term.flush()
  return term.lines()
}

export function place(pane: Pane, width: number, height: number): void {
  pane.box.top = 0
  pane.box.left = 0
  pane.box.width = width
  pane.box.height = height
}
