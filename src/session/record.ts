/** Where a session stands (DESIGN.md §4). */
export const sessionStatuses = ['active', 'stopped', 'synced', 'discarded'] as const
export type SessionStatus = (typeof sessionStatuses)[number]

/** session.json. */
export interface SessionRecord {
  version: 1
  id: string
  projectPath: string
  backend: 'docker' | 'podman' | 'qemu' | 'firecracker'
  /** The engine endpoint a Docker-API session runs on (`unix:///run/podman/podman.sock`). */
  engine?: string | undefined
  sandboxId?: string | undefined
  status: SessionStatus
  createdAt: string
  updatedAt: string
  ownerPid: number
  ownerHost: string
  /** Commit 0 of the audit repository: the project as copied in. */
  baseCommit?: string | undefined
  /** Commits after the snapshot (one per tool call or command). */
  commits: number
  /** Journal id of the last sync-back, for `sync --undo`. */
  lastSync?: string | undefined
  /** The commit the last sync-back applied; work after it is unsynced. */
  syncedCommit?: string | undefined
  /** The egress policy its sandboxes run with (absent: none). */
  network?: { mode: 'none' | 'allowlist' | 'open'; allow: string[]; deny: string[] } | undefined
  /** Tokens the agent used in this session, across all its turns. */
  usage?: { inputTokens: number; outputTokens: number; totalTokens: number } | undefined
}

/** A check of one value: what it should have been when it is not, else undefined. */
type Check = (value: unknown) => string | undefined

const text: Check = (v) => (typeof v === 'string' ? undefined : 'a string')
const count =
  (min: number): Check =>
  (v) =>
    Number.isSafeInteger(v) && (v as number) >= min ? undefined : `a whole number ≥ ${min}`
const finite: Check = (v) => (Number.isFinite(v) ? undefined : 'a number')
const oneOf =
  (values: readonly unknown[]): Check =>
  (v) =>
    values.includes(v) ? undefined : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`
const list =
  (item: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every((x) => item(x) === undefined) ? undefined : 'a list'
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? undefined : check(v)
const object =
  (shape: Record<string, Check>): Check =>
  (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'an object'
    for (const [key, check] of Object.entries(shape)) {
      const wrong = check((v as Record<string, unknown>)[key])
      if (wrong !== undefined) return `an object whose "${key}" is ${wrong}`
    }
    return undefined
  }

/** Every field of the record and its check; the type makes a field without a check an error. */
const recordShape: { [K in keyof SessionRecord]-?: Check } = {
  version: oneOf([1]),
  id: text,
  projectPath: text,
  backend: oneOf(['docker', 'podman', 'qemu', 'firecracker']),
  engine: optional(text),
  sandboxId: optional(text),
  status: oneOf(sessionStatuses),
  createdAt: text,
  updatedAt: text,
  ownerPid: count(Number.MIN_SAFE_INTEGER),
  ownerHost: text,
  baseCommit: optional(text),
  commits: count(0),
  lastSync: optional(text),
  syncedCommit: optional(text),
  network: optional(
    object({ mode: oneOf(['none', 'allowlist', 'open']), allow: list(text), deny: list(text) }),
  ),
  usage: optional(object({ inputTokens: finite, outputTokens: finite, totalTokens: finite })),
}

/**
 * A session.json, checked field by field on every read: the file sits in the user's state dir
 * and may have been edited, truncated, or written by another version. Fields this version does
 * not know are dropped. Checked by hand, not with the config's schema library: `sessions` reads
 * every record, and loading that library would be most of its start-up (docs/performance.md).
 */
export function parseSessionRecord(
  value: unknown,
): { ok: true; record: SessionRecord } | { ok: false; message: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, message: 'not a JSON object' }
  const fields = value as Record<string, unknown>
  const record: Record<string, unknown> = {}
  for (const [key, check] of Object.entries(recordShape)) {
    const wrong = check(fields[key])
    if (wrong !== undefined) return { ok: false, message: `"${key}" must be ${wrong}` }
    if (fields[key] !== undefined) record[key] = fields[key]
  }
  return { ok: true, record: record as unknown as SessionRecord }
}
