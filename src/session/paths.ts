import path from 'node:path'

/** Where one session keeps everything (DESIGN.md §4); the gitdir is outside the mirror. */
export interface SessionPaths {
  dir: string
  /** The host mirror: what the sandbox sees at /workspace. */
  work: string
  /**
   * The mirror's fixed-size disk image, mounted at `work` (Docker sessions made by root; see
   * docs/sandboxing.md#disk-limits). Absent for other sessions.
   */
  disk: string
  /** The audit repository; the sandbox can never reach it. */
  gitdir: string
  sessionFile: string
  eventsFile: string
  /** The conversation, one JSON record a line, for `chat --session` to continue it. */
  transcriptFile: string
  /** The base manifest (host files at copy-in), kept apart from session.json because it is large. */
  baseManifest: string
  /** Sync journals, one folder per sync, for undo and crash recovery. */
  journals: string
  lockFile: string
  /** Where the owning process serves the session's events to dashboards (event-server.ts). */
  eventsSocket: string
}

export function sessionsDir(stateDir: string): string {
  return path.join(stateDir, 'sessions')
}

export function sessionPaths(stateDir: string, id: string): SessionPaths {
  const dir = path.join(sessionsDir(stateDir), id)
  return {
    dir,
    work: path.join(dir, 'work'),
    disk: path.join(dir, 'workspace.ext4'),
    gitdir: path.join(dir, 'audit.git'),
    sessionFile: path.join(dir, 'session.json'),
    eventsFile: path.join(dir, 'events.jsonl'),
    transcriptFile: path.join(dir, 'transcript.jsonl'),
    baseManifest: path.join(dir, 'base-manifest.json'),
    journals: path.join(dir, 'journals'),
    lockFile: path.join(dir, 'lock'),
    eventsSocket: path.join(dir, 'events.sock'),
  }
}

/**
 * Every project's shared sync state (`projects/<key>/`: the lock, the syncs under way), kept
 * apart from the sessions because two sessions of one project share it.
 */
export function projectsDir(stateDir: string): string {
  return path.join(stateDir, 'projects')
}

/** Session ids are created by us; anything else (a path, `..`) is refused before it is joined. */
export function isSessionId(id: string): boolean {
  return /^s-[a-z0-9]+-[0-9a-f]{8}$/.test(id)
}
