import type { SessionClient } from '../../session/client.js'
import { toErrorInfo } from '../../shared/errors.js'
import type { PaneContext } from './types.js'
import { selectedFile, type ReviewModel } from './review-model.js'
import { countChanges, planText, plural } from './sync-plan-text.js'

/** What the review's actions need from the app. */
export interface ReviewDeps {
  client: SessionClient
  confirm: PaneContext['confirm']
  notify: PaneContext['notify']
  /** Shows the sync plan until the returned function is called. */
  showPlan(text: string): () => void
}

const short = (commit: string): string => commit.slice(0, 7)

/** A client failure as one status-bar line: what failed, and the hint when there is one. */
export function describeError(error: unknown): string {
  const info = toErrorInfo(error)
  return info.hint === undefined ? info.message : `${info.message} ${info.hint}`
}

/** Runs an action, reporting a failure instead of throwing; resolves true when work changed. */
export async function guarded(deps: ReviewDeps, run: () => Promise<boolean>): Promise<boolean> {
  try {
    return await run()
  } catch (error) {
    deps.notify('error', describeError(error))
    return false
  }
}

/**
 * `r`. One commit: reverts the selected file of it, or the whole commit when it changed no
 * files. The whole session: the client reverts commits, not ranges, so every commit that
 * touched the file is reverted for that file, newest first — which puts it back as it was at
 * copy-in, one new commit each; a clash stops the chain and says how far it got.
 */
export async function revertSelected(deps: ReviewDeps, model: ReviewModel): Promise<boolean> {
  const { client, confirm, notify } = deps
  const id = model.sessionId
  const file = selectedFile(model)
  if (model.commit !== undefined) {
    const commit = model.commit
    if (file === undefined) {
      if (!(await confirm(`revert commit ${short(commit)} as a new commit?`))) return false
      const done = await client.revert(id, { commit })
      notify('info', `reverted ${short(commit)} as ${short(done.commit)}`)
      return true
    }
    const question = `revert ${file.path} as commit ${short(commit)} changed it (a new commit)?`
    if (!(await confirm(question))) return false
    const done = await client.revert(id, { commit, paths: [file.path] })
    model.reverted.add(file.path)
    notify('info', `reverted ${file.path} of ${short(commit)} as ${short(done.commit)}`)
    return true
  }
  if (file === undefined) {
    notify('info', 'nothing to revert: the session changed no files')
    return false
  }
  // The timeline ends with commit 0, the copy-in, which lists every file: never revert it.
  const commits = (await client.timeline(id))
    .slice(0, -1)
    .filter((c) => c.files.some((f) => f.path === file.path))
  if (commits.length === 0) {
    notify('warn', `no commit of the session changed ${file.path}; open the timeline to look`)
    return false
  }
  const n = plural(commits.length, 'commit')
  const question = `put ${file.path} back as it was at copy-in? (reverts it in ${n}, newest first)`
  if (!(await confirm(question))) return false
  let done = 0
  for (const c of commits) {
    try {
      await client.revert(id, { commit: c.commit, paths: [file.path] })
      done++
    } catch (error) {
      const how = `reverted ${file.path} in ${done} of ${n}; ${short(c.commit)} failed`
      notify('error', `${how}: ${describeError(error)}`)
      return done > 0
    }
  }
  notify('info', `${file.path} is back as it was at copy-in (reverted in ${n})`)
  return true
}

/** `s`: plans without the rejected files, shows the plan, asks, applies. */
export async function syncReviewed(deps: ReviewDeps, model: ReviewModel): Promise<boolean> {
  const { client, confirm, notify } = deps
  const exclude = [...model.rejected].sort()
  const plan = await client.planSync(model.sessionId, { exclude })
  const changes = countChanges(plan)
  if (changes === 0) {
    if (plan.conflicts > 0) {
      const conflicts = plural(plan.conflicts, 'conflict')
      notify('warn', `nothing to sync but ${conflicts}: resolve them with safe-coder sync`)
    } else notify('info', 'nothing to sync: the project already has these changes')
    return false
  }
  const hide = deps.showPlan(planText(plan, model.sessionId, exclude))
  let ok: boolean
  try {
    const risky = plan.risky > 0 ? ` (${plan.risky} risky: see the plan)` : ''
    ok = await confirm(`apply ${plural(changes, 'change')} to ${plan.projectPath}?${risky}`)
  } finally {
    hide()
  }
  if (!ok) {
    notify('info', 'sync cancelled: the project was not touched')
    return false
  }
  const result = await client.applySync(model.sessionId)
  const left = result.conflicts.length
  notify(
    left > 0 ? 'warn' : 'info',
    `applied ${plural(result.applied, 'change')} to ${plan.projectPath}` +
      (left > 0 ? `; ${plural(left, 'conflict')} left untouched` : '') +
      // A sync that wrote nothing is not on the undo stack: `u` would undo the one before it.
      (result.journal === undefined ? '' : '; u undoes it'),
  )
  return true
}

/** `u`: asks, then restores what the last sync overwrote or deleted in the project. */
export async function undoLastSync(deps: ReviewDeps, model: ReviewModel): Promise<boolean> {
  const question = 'undo the last sync? the project files it wrote go back as they were'
  if (!(await deps.confirm(question))) return false
  const { restored } = await deps.client.undoSync(model.sessionId)
  deps.notify('info', `sync undone: ${plural(restored, 'file')} restored in the project`)
  return true
}

/**
 * `h`: rejects the current hunk by reverting just that hunk as a new commit. In one commit's
 * review the hunk is that commit's; in the whole-session review only when a single commit
 * changed the file (then the session's hunk is that commit's hunk); otherwise it says to open
 * the commit from the timeline.
 */
export async function rejectHunk(deps: ReviewDeps, model: ReviewModel): Promise<boolean> {
  const { client, confirm, notify } = deps
  const id = model.sessionId
  const file = selectedFile(model)
  if (file === undefined || file.hunks.length === 0) {
    notify('info', 'no hunk here to reject')
    return false
  }
  const index = Math.min(model.hunk, file.hunks.length - 1)
  let commit = model.commit
  if (commit === undefined) {
    const touching = (await client.timeline(id))
      .slice(0, -1)
      .filter((c) => c.files.some((f) => f.path === file.path))
    if (touching.length !== 1 || touching[0] === undefined) {
      notify(
        'warn',
        `${file.path} changed in ${plural(touching.length, 'commit')}: reject hunks in one commit's review (Enter on the timeline)`,
      )
      return false
    }
    commit = touching[0].commit
  }
  const question = `reject hunk ${index + 1} of ${file.path} (reverts it as a new commit)?`
  if (!(await confirm(question))) return false
  const done = await client.revert(id, { commit, hunk: { path: file.path, index } })
  notify('info', `hunk ${index + 1} of ${file.path} reverted as ${short(done.commit)}`)
  return true
}
