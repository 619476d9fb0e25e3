import { basename } from 'node:path'
import type { SessionClient } from '../session/client.js'
import { toErrorInfo } from '../shared/errors.js'
import type { Modal } from './overlays/modal.js'
import type { ViewAction } from './state/reduce.js'
import type { ViewState } from './state/types.js'

/** What the session questions (new, close, quit) need from the app. */
export interface FlowContext {
  client: SessionClient
  modal: Modal
  state: () => ViewState
  dispatch: (action: ViewAction) => void
  notify: (level: 'info' | 'warn' | 'error', text: string) => void
  /** Leaves the dashboard; `message` is printed once the terminal is restored. */
  finish: (message?: string) => void
  /** Where `n` starts (the focused session's project, else the working directory). */
  defaultPath: () => string
}

const keptMessage =
  'Unsynced work stays on disk: `safe-coder sessions` lists it, `safe-coder sync <id>` applies it.'

/** `n`: asks for a project path and starts a session on a copy of it. */
export async function newSession(ctx: FlowContext): Promise<void> {
  const path = await ctx.modal.ask('Start a session on which project directory?', ctx.defaultPath())
  if (path === undefined || path.trim() === '') return
  ctx.notify('info', `copying ${path.trim()} into a new sandbox…`)
  try {
    const id = await ctx.client.create(path.trim())
    ctx.dispatch({ name: 'client.sessions', payload: { sessions: ctx.client.list() } })
    ctx.dispatch({ name: 'ui.focus', payload: { sessionId: id } })
    ctx.notify('info', `session ${id} started`)
  } catch (error) {
    ctx.notify('error', describe(error))
  }
}

/** `x`: closes the focused session, asking what becomes of its unsynced work. */
export async function closeSession(ctx: FlowContext): Promise<void> {
  const id = ctx.state().focused
  const session = id === undefined ? undefined : ctx.state().sessions[id]
  if (id === undefined || session === undefined) {
    ctx.notify('info', 'no session to close')
    return
  }
  const name = basename(session.projectPath) || session.projectPath
  try {
    const unsynced = await ctx.client.unsynced(id)
    let choice: 'keep' | 'sync' | 'discard' | undefined = 'keep'
    if (unsynced > 0) {
      choice = await ctx.modal.choose(
        `Close ${name}? It has ${count(unsynced, 'changed file')} not synced to ${session.projectPath}.`,
        [
          { key: 'k', label: 'keep for later', value: 'keep' },
          { key: 's', label: 'sync now', value: 'sync' },
          { key: 'd', label: 'discard', value: 'discard' },
        ],
      )
      if (
        choice === 'discard' &&
        !(await ctx.modal.confirm(`Discard ${count(unsynced, 'change')} for good?`))
      ) {
        return
      }
    } else if (!(await ctx.modal.confirm(`Close ${name}? Its sandbox stops.`))) return
    if (choice === undefined) return
    ctx.notify('info', `closing ${name}…`)
    await ctx.client.close(id, choice)
    ctx.dispatch({ name: 'client.removed', payload: { sessionId: id } })
    ctx.notify(
      'info',
      `${name} closed${choice === 'keep' && unsynced > 0 ? '; its work is kept' : ''}`,
    )
  } catch (error) {
    ctx.notify('error', describe(error))
  }
}

/**
 * `q`: quits; when local sessions hold unsynced work, asks first: keep it all for later, sync it
 * now, or stay. Remote sessions belong to their own process and are not asked about.
 */
export async function quit(ctx: FlowContext): Promise<void> {
  const local = ctx.client.list().filter((s) => s.origin === 'local')
  let counts: number[]
  try {
    counts = await Promise.all(local.map((s) => ctx.client.unsynced(s.id)))
  } catch (error) {
    ctx.notify('error', `cannot tell what is unsynced: ${describe(error)}`)
    counts = local.map(() => 1)
  }
  const pending = local.filter((_, i) => (counts[i] ?? 0) > 0)
  if (pending.length === 0) {
    ctx.finish()
    return
  }
  const names = pending.map((s) => basename(s.projectPath) || s.projectPath).join(', ')
  const choice = await ctx.modal.choose(
    `${count(pending.length, 'session')} with unsynced work: ${names}. Quit how?`,
    [
      { key: 'k', label: 'keep all for later', value: 'keep' },
      { key: 's', label: 'sync now', value: 'sync' },
      { key: 'c', label: 'cancel', value: 'cancel' },
    ],
  )
  if (choice === 'keep') {
    ctx.finish(keptMessage)
    return
  }
  if (choice !== 'sync') return
  for (const s of pending) {
    ctx.notify('info', `syncing ${basename(s.projectPath)}…`)
    try {
      await ctx.client.close(s.id, 'sync')
      ctx.dispatch({ name: 'client.removed', payload: { sessionId: s.id } })
    } catch (error) {
      ctx.notify('error', `sync of ${basename(s.projectPath)} failed: ${describe(error)}`)
      return
    }
  }
  ctx.finish()
}

function describe(error: unknown): string {
  const info = toErrorInfo(error)
  return info.hint === undefined ? info.message : `${info.message} ${info.hint}`
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

export { keptMessage }

/** `a`: allows the host the proxy last refused in the focused session, after asking. */
export async function allowDeniedHost(ctx: FlowContext): Promise<void> {
  const id = ctx.state().focused
  const denied = id === undefined ? undefined : ctx.state().sessions[id]?.lastDenied
  if (id === undefined || denied === undefined) {
    ctx.notify('info', 'no refused connection to allow in this session')
    return
  }
  const where = `${denied.host}:${denied.port}`
  if (!(await ctx.modal.confirm(`Let this session's sandbox reach ${where} from now on?`))) return
  try {
    await ctx.client.allowHost(id, denied.host, denied.port)
    ctx.notify('info', `${where} allowed for this session (the proxy logs every connection)`)
  } catch (error) {
    ctx.notify('error', describe(error))
  }
}
