import type { Manifest, ManifestEntry, SyncSource } from '../shared/manifest.js'
import type { ProjectLock } from './project-lock.js'

/**
 * What sync-back does with one path: write the session's version (`create`, `modify`, `delete`,
 * `mode`), nothing because the host already has it (`noop-same`), nothing because the host
 * changed it differently (`conflict`), or nothing for a stated reason (`skip`).
 */
export type SyncAction = 'create' | 'modify' | 'delete' | 'mode' | 'noop-same' | 'conflict' | 'skip'

/** Why a change deserves a second look before it reaches the project (DESIGN.md §4.4). */
export type RiskFlag =
  | 'git-config'
  | 'git-repository'
  | 'ci-workflow'
  | 'package-scripts'
  | 'build-hooks'
  | 'makefile'
  | 'shell-rc'
  | 'git-hooks'
  | 'package-manager'
  | 'toolchain'
  | 'editor-config'
  | 'executable'
  | 'symlink'
  | 'binary'
  | 'too-large'
  | 'safecoder-config'

/** A risk flag with the sentence the plan shows for it: what runs, and when. */
export interface Risk {
  flag: RiskFlag
  reason: string
}

export interface SyncItem {
  /** Project-relative, `/`-separated. */
  path: string
  action: SyncAction
  /** One sentence for humans: why this action. */
  reason: string
  /** Empty unless the action writes something that deserves confirmation. */
  risky: RiskFlag[]
  /** Why each flag of `risky` was raised, for the plan. */
  riskReasons?: Partial<Record<RiskFlag, string>>
  /** At copy-in time. */
  base?: ManifestEntry
  /** At the session's HEAD. */
  session?: ManifestEntry
  /** On the host when the plan was made. */
  host?: ManifestEntry
  /** The user forced the session's version over host changes. */
  forced?: boolean
  /** A three-way text merge to write instead of the session's version (`--merge`). */
  merge?: { text: string; conflicts: number }
  /**
   * The host has a directory here that the session replaced with a file: the sync's deletions
   * empty it, it is removed, then the file is written.
   */
  hostDir?: boolean
}

/** Plain data: can be printed, stored, or sent over the bus. */
export interface SyncPlan {
  /** Real path of the project. */
  projectDir: string
  /** Sorted by path. */
  items: SyncItem[]
  conflicts: number
  /** Items that would write something flagged risky. */
  risky: number
}

export interface PlanSyncOptions {
  projectDir: string
  /** What the host files were at copy-in time. */
  base: Manifest
  source: SyncSource
  /**
   * The paths that may differ between base and session, when the caller knows them (a diff of
   * the audit repository's base commit and HEAD): only these are compared, so planning does not
   * grow with the project. A path missing from the list is not synced. Default: compare the
   * whole manifests in memory.
   */
  changed?: readonly string[]
  /** Path prefixes (whole segments, no globs) to restrict the sync to. */
  only?: string[]
  /** Path prefixes (whole segments, no globs) to leave out; they win over `only`. */
  exclude?: string[]
  /** Path prefixes whose session version overwrites host changes. */
  force?: string[]
  /** Merge conflicting text files with conflict markers; needs `readBase`. */
  merge?: boolean
  /** Reads a base blob (the copy-in version of a file); required with `merge`. */
  readBase?: (path: string, entry: ManifestEntry, signal?: AbortSignal) => Promise<Uint8Array>
  /** Session files larger than this are flagged risky. */
  maxFileBytes?: number
  signal?: AbortSignal
}

export interface ApplySyncOptions {
  /** The project's lock, held by the caller (`lockProject`) from planning to here. */
  lock: ProjectLock
  source: SyncSource
  /** Where journals live (`<journalDir>/<id>/`); outside the project. One folder per session. */
  journalDir: string
  /** The session commit being synced, recorded in the journal. */
  head?: string
  /** The user confirmed the risky items (`--yes`); without it a plan with any is refused. */
  confirmRisky: boolean
  signal?: AbortSignal
  /** Test seam: runs after each file written or removed, with the count so far. */
  afterWrite?: (count: number) => void | Promise<void>
  /** Files written or removed so far, of `total`; called often (the caller throttles). */
  onProgress?: (done: number, total: number) => void
}

export interface SyncResult {
  /** Journal id, for `undoSync`. Sortable by time. Absent when nothing was written. */
  id?: string
  applied: SyncItem[]
  /** Conflicts of the plan plus items whose host file changed after planning. */
  conflicts: SyncItem[]
  /** Paths written as three-way merges. */
  merged: string[]
}

export const writingActions: ReadonlySet<SyncAction> = new Set([
  'create',
  'modify',
  'delete',
  'mode',
])

/**
 * Files a sync (or its undo) works on at once: each one waits mostly on its own fsync, so they
 * overlap in libuv's thread pool; the bound keeps descriptors and memory flat.
 */
export const fileConcurrency = 32
