import type { EventMap } from '../../bus/events.js'
import { formatBytes, formatDuration } from '../../shared/format.js'
import type { TimelineCommit } from '../../session/client.js'
import { sanitizeLine } from './sanitize.js'
import { execLog, MAX_EXECS, pushBounded } from './session-view.js'
import type { ExecView, SessionView, TimelineEntry, ViewLimits } from './types.js'

/**
 * The machine side of a session: execs and their log, the sandbox's state and stats, commits.
 * The log ring is written in place (see `reduce.ts`); the handlers still return a new
 * SessionView when lines were pushed, so the state's version moves.
 */

export function execStarted(session: SessionView, p: EventMap['exec.started']): SessionView {
  const log = execLog(session.log)
  const command = sanitizeLine(p.command)
  log?.meta(p.execId, `$ ${command}`)
  const exec: ExecView = { execId: p.execId, command, startedAt: p.at }
  return { ...session, execs: addExec(session.execs, exec) }
}

export function execOutput(session: SessionView, p: EventMap['exec.output']): SessionView {
  const pushed = execLog(session.log)?.write(p.execId, p.stream, p.text) ?? 0
  return pushed === 0 ? session : { ...session }
}

export function execFinished(
  session: SessionView,
  p: EventMap['exec.finished'],
  now: number,
): SessionView {
  const log = execLog(session.log)
  log?.finish(p.execId)
  log?.meta(p.execId, execFooter(p))
  const known = session.execs[p.execId]
  const exec: ExecView = {
    ...(known ?? { execId: p.execId, command: '', startedAt: now - p.durationMs }),
    exitCode: p.exitCode,
    durationMs: p.durationMs,
    timedOut: p.timedOut,
    aborted: p.aborted,
  }
  return { ...session, execs: addExec(session.execs, exec) }
}

/** "exit 0 in 1.2 s", "timed out after 30.0 s", "cancelled after 2.1 s", "killed after …". */
export function execFooter(p: EventMap['exec.finished']): string {
  const took = formatDuration(p.durationMs)
  const end = p.aborted
    ? `cancelled after ${took}`
    : p.timedOut
      ? `timed out after ${took}`
      : p.exitCode === null
        ? `killed after ${took}`
        : `exit ${p.exitCode} in ${took}`
  return p.truncatedBytes > 0
    ? `${end} (${formatBytes(p.truncatedBytes)} of output truncated)`
    : end
}

function addExec(execs: Record<string, ExecView>, exec: ExecView): Record<string, ExecView> {
  const next = { ...execs, [exec.execId]: exec }
  const entries = Object.entries(next)
  return entries.length > MAX_EXECS ? Object.fromEntries(entries.slice(-MAX_EXECS)) : next
}

export function sandboxState(
  session: SessionView,
  p: EventMap['sandbox.state'],
  now: number,
): SessionView {
  if (p.state === 'running') {
    const network = p.network ?? session.network
    const warning = p.warning ?? session.warning
    if (
      session.stats.startedAt !== undefined &&
      network === session.network &&
      warning === session.warning
    )
      return session
    return {
      ...session,
      ...(network === undefined ? {} : { network }),
      ...(warning === undefined ? {} : { warning: sanitizeLine(warning) }),
      stats: { ...session.stats, startedAt: session.stats.startedAt ?? now },
    }
  }
  if (p.state === 'creating' || session.stats.startedAt === undefined) return session
  // Stopped, gone or failed: the next `running` is a new sandbox, with its own uptime.
  const stats = { ...session.stats }
  delete stats.startedAt
  return { ...session, stats }
}

export function sandboxStats(
  session: SessionView,
  p: EventMap['sandbox.stats'],
  limits: ViewLimits,
): SessionView {
  const { sessionId: _session, sandboxId: _sandbox, ...latest } = p
  const max = limits.historyLength
  const stats = {
    ...session.stats,
    cpuPercent: pushBounded(session.stats.cpuPercent, p.cpuPercent, max),
    memoryBytes: pushBounded(session.stats.memoryBytes, p.memoryBytes, max),
    latest,
  }
  return { ...session, stats }
}

export function gitCommitted(
  session: SessionView,
  p: EventMap['git.committed'],
  now: number,
): SessionView {
  if (session.timeline.some((t) => t.commit === p.commit)) return session
  const entry: TimelineEntry = {
    commit: p.commit,
    callId: p.callId,
    message: sanitizeLine(p.message),
    changed: p.changed.map((c) => ({ path: sanitizeLine(c.path), status: c.status })),
    at: now,
  }
  return { ...session, timeline: [entry, ...session.timeline] }
}

/** The client's timeline (newest first) replaces ours; call ids survive from `git.committed`. */
export function clientTimeline(session: SessionView, commits: TimelineCommit[]): SessionView {
  const callIds = new Map(session.timeline.map((t) => [t.commit, t.callId]))
  const timeline = commits.map((c): TimelineEntry => ({
    commit: c.commit,
    callId: callIds.get(c.commit) ?? '',
    message: sanitizeLine(c.subject),
    changed: c.files.map((f) => ({ path: sanitizeLine(f.path), status: f.status })),
    added: c.files.reduce((sum, f) => sum + f.added, 0),
    removed: c.files.reduce((sum, f) => sum + f.removed, 0),
    at: c.at,
  }))
  return { ...session, timeline }
}

/**
 * A connection through the session's egress proxy: one meta line in the process log
 * ("net allowed registry.npmjs.org:443 (CONNECT) 1.2 MiB in 340 ms" / "net DENIED …: reason"),
 * and the latest denied host, which the dashboard offers to allow.
 */
export function netEvent(
  session: SessionView,
  p: EventMap['net.allowed'],
  allowed: boolean,
): SessionView {
  const where = sanitizeLine(`${p.host}:${p.port}`)
  const what = p.kind === 'connect' ? 'CONNECT' : `${p.method ?? 'GET'} ${p.path ?? '/'}`
  const text = allowed
    ? `net allowed ${where} (${sanitizeLine(what)}) ${formatBytes(p.bytesIn)} in ${formatDuration(p.durationMs)}`
    : `net DENIED ${where} (${sanitizeLine(what)}): ${sanitizeLine(p.reason ?? 'not allowed')}`
  execLog(session.log)?.meta('net', text)
  if (allowed) return { ...session }
  return { ...session, lastDenied: { host: sanitizeLine(p.host), port: p.port } }
}
