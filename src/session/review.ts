import {
  changedPaths,
  diffCommits,
  headCommit,
  findRootCommit,
  readLog,
  revertCommit,
  type CommitInfo,
  type FileDiff,
} from '../git/index.js'
import { createId } from '../shared/ids.js'
import type { GitFileMode } from '../shared/manifest.js'
import { riskFlagsOf } from '../workspace/sync-risk.js'
import type { FileDiffView, RevertTarget, TimelineCommit } from './client.js'
import { sandboxLeft } from './left-sandboxes.js'
import type { SessionStore } from './store.js'
import { auditRepo } from './history.js'
import type { TrackingOptions } from './workspace-session.js'

/** Review of a session as plain data, for the dashboard and any other front end. */
export interface ReviewContext {
  store: SessionStore
  tracking: TrackingOptions
}

/** The session's commits, newest first, commit 0 last. */
export async function sessionTimeline(
  ctx: ReviewContext,
  id: string,
  limit?: number,
): Promise<TimelineCommit[]> {
  const repo = await auditRepo(ctx.store, id, ctx.tracking.maxFileBytes)
  const log = await readLog(repo, limit === undefined ? {} : { limit })
  return log.map(toTimelineCommit)
}

function toTimelineCommit(c: CommitInfo): TimelineCommit {
  const tool = c.trailers.Tool ?? /^([a-z_]+):/.exec(c.subject)?.[1]
  return {
    commit: c.oid,
    subject: c.subject,
    ...(tool === undefined ? {} : { tool }),
    ...(c.trailers.Exit === undefined ? {} : { exit: c.trailers.Exit }),
    ...(c.trailers.Status === undefined ? {} : { status: c.trailers.Status }),
    at: c.timestamp * 1000,
    files: c.files.map(({ path, status, added, removed }) => ({ path, status, added, removed })),
  }
}

/** One commit's diff, or the whole session's (commit 0 → HEAD), with risk flags per file. */
export async function sessionDiff(
  ctx: ReviewContext,
  id: string,
  commit?: string,
): Promise<FileDiffView[]> {
  const repo = await auditRepo(ctx.store, id, ctx.tracking.maxFileBytes)
  const range =
    commit === undefined ? { from: await findRootCommit(repo), to: 'HEAD' } : { to: commit }
  const diffs = await diffCommits(repo, range)
  return diffs.map((d) => toFileDiffView(d, ctx.tracking.maxFileBytes))
}

function toFileDiffView(d: FileDiff, maxFileBytes: number): FileDiffView {
  const session =
    d.newOid === undefined || d.newMode === undefined
      ? undefined
      : {
          oid: d.newOid,
          mode: d.newMode as GitFileMode,
          size: d.newSize ?? 0,
          ...(d.tooLarge ? { tooLarge: true } : {}),
        }
  const host =
    d.oldOid === undefined || d.oldMode === undefined
      ? undefined
      : { oid: d.oldOid, mode: d.oldMode as GitFileMode, size: d.oldSize ?? 0 }
  const action = d.status === 'added' ? 'create' : d.status === 'deleted' ? 'delete' : 'modify'
  const risks = new Set<string>(riskFlagsOf({ path: d.path, action, session, host, maxFileBytes }))
  if (d.binary) risks.add('binary')
  return {
    path: d.path,
    status: d.status,
    binary: d.binary,
    added: d.added,
    removed: d.removed,
    risks: [...risks],
    ...(d.summary === undefined ? {} : { summary: d.summary }),
    hunks: d.hunks.map((h) => ({
      header: `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@${h.heading === undefined ? '' : ` ${h.heading}`}`,
      lines: h.lines
        .filter((line) => !line.startsWith('\\'))
        .map((line) => ({
          kind: line.startsWith('+')
            ? ('add' as const)
            : line.startsWith('-')
              ? ('remove' as const)
              : ('context' as const),
          text: line.slice(1),
        })),
    })),
  }
}

/** Runs host work on a live session's mirror while its sandbox cannot change it. */
export type MirrorHold = <T>(work: () => Promise<T>) => Promise<T>

/**
 * Reverts a commit, some of its files or one hunk as a new commit, and writes the result into
 * the mirror. The caller holds the lock; the session's live owner passes `hold` (its sandbox
 * is frozen meanwhile). Without it, a sandbox the session still records was left by a process
 * that died and may still be running: nothing is written then.
 */
export async function revertInSession(
  ctx: ReviewContext,
  id: string,
  target: RevertTarget,
  hold?: MirrorHold,
): Promise<{ commit: string; changed: string[] }> {
  const record = await ctx.store.read(id)
  if (hold === undefined && record.sandboxId !== undefined) {
    throw sandboxLeft(id, record.sandboxId, 'revert')
  }
  const repo = await auditRepo(ctx.store, id, ctx.tracking.maxFileBytes)
  const revert = () =>
    revertCommit(repo, {
      commit: target.commit,
      ...('paths' in target ? { paths: target.paths } : {}),
      ...('hunk' in target ? { hunk: target.hunk } : {}),
      trailers: { Session: id, Call: createId('call') },
    })
  const result = await (hold === undefined ? revert() : hold(revert))
  await ctx.store.update(id, (r) => ({ commits: r.commits + 1 }))
  await ctx.store.appendEvent(id, {
    type: 'revert',
    reverted: target.commit,
    commit: result.commit,
  })
  return result
}

/** Files changed since the session's last sync-back (or since copy-in). */
export async function unsyncedCount(ctx: ReviewContext, id: string): Promise<number> {
  const record = await ctx.store.read(id)
  const from = record.syncedCommit ?? record.baseCommit
  if (from === undefined) return 0
  const repo = await auditRepo(ctx.store, id, ctx.tracking.maxFileBytes)
  return (await changedPaths(repo, from, await headCommit(repo))).length
}
