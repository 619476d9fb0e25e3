import type { ErrorInfo } from '../shared/errors.js'

/**
 * What the dashboard may do to sessions, and nothing more (DESIGN.md §2): it never sees a
 * container, a VM, a git object or a file on the host. Every answer is plain data. Sessions
 * monitored in another process accept only what is safe from outside (abort, and sync when
 * that process is idle); the rest rejects with USAGE naming the owning process.
 */
export interface SessionClient {
  /** Sessions this dashboard shows, in creation order. */
  list(): SessionSummary[]
  /** A new session on a copy of `projectPath` (copy-in, sandbox start); resolves with its id. */
  create(projectPath: string): Promise<string>
  /** Ends a session's live part; `choice` says what happens to its unsynced work. */
  close(id: string, choice: 'keep' | 'sync' | 'discard'): Promise<void>
  /** Starts a turn; resolves when it ends (its progress arrives as bus events). */
  prompt(id: string, text: string): Promise<void>
  abort(id: string): void
  approve(id: string, requestId: string, approved: boolean): void
  /** The session's commits, newest first (commit 0 last). */
  timeline(id: string): Promise<TimelineCommit[]>
  /** The diff of one commit, or of the whole session (base → HEAD) when `commit` is absent. */
  diff(id: string, commit?: string): Promise<FileDiffView[]>
  /** Files changed since the last sync (or since copy-in). */
  unsynced(id: string): Promise<number>
  /** Reverts a commit, or some of its files, or one hunk of one file, as a new commit. */
  revert(id: string, target: RevertTarget): Promise<{ commit: string }>
  /** The sync plan, leaving out `exclude`d paths (files the user rejected in review). */
  planSync(id: string, options: { exclude: string[] }): Promise<SyncPlanView>
  /** Applies the plan last returned by `planSync` for this session. */
  applySync(id: string): Promise<SyncResultView>
  undoSync(id: string): Promise<{ restored: number }>
  /** Lets an allow-list session reach one more host from now on. */
  allowHost(id: string, host: string, port: number): Promise<void>
}

export interface SessionSummary {
  id: string
  projectPath: string
  backend: string
  /** `local`: this process runs it; `remote`: another Safe Coder process does, monitored here. */
  origin: 'local' | 'remote'
  ownerPid: number
}

export interface TimelineCommit {
  commit: string
  /** "bash: npm test", "edit_file: src/a.ts", "snapshot: /path". */
  subject: string
  tool?: string
  exit?: string
  status?: string
  at: number
  files: { path: string; status: string; added: number; removed: number }[]
}

export interface FileDiffView {
  path: string
  status: string
  binary: boolean
  added: number
  removed: number
  /** Risky-change flags: `hook`, `ci`, `script`, `executable`, `symlink`, `binary`, `large`… */
  risks: string[]
  /** Stands in for hunks of binary or huge files. */
  summary?: string
  hunks: HunkView[]
}

export interface HunkView {
  /** "@@ -1,3 +1,4 @@" */
  header: string
  lines: { kind: 'context' | 'add' | 'remove'; text: string }[]
}

export type RevertTarget =
  | { commit: string }
  | { commit: string; paths: string[] }
  | { commit: string; hunk: { path: string; index: number } }

export interface SyncPlanView {
  projectPath: string
  items: {
    path: string
    action: string
    risks: string[]
    /** Why each of `risks` was raised, keyed by flag. */
    riskReasons?: Record<string, string>
    reason?: string
  }[]
  conflicts: number
  risky: number
  /** The plan as `safe-coder sync --dry-run` prints it. */
  text: string
}

export interface SyncResultView {
  applied: number
  conflicts: string[]
  /** Absent when the sync wrote nothing (there is nothing to undo). */
  journal?: string
  text: string
}

/** Why a client call failed, as data for the status bar. */
export type ClientError = ErrorInfo
