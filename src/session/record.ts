import { z } from 'zod'

/** Where a session stands (DESIGN.md §4). */
export const sessionStatuses = ['active', 'stopped', 'synced', 'discarded'] as const
export type SessionStatus = (typeof sessionStatuses)[number]

/**
 * session.json. Parsed with a schema on every read: the file sits in the user's state dir and
 * may have been edited, truncated, or written by another version.
 */
export const sessionRecordSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  projectPath: z.string(),
  backend: z.enum(['docker', 'podman', 'qemu', 'firecracker']),
  /** The engine endpoint a Docker-API session runs on (`unix:///run/podman/podman.sock`). */
  engine: z.string().optional(),
  sandboxId: z.string().optional(),
  status: z.enum(sessionStatuses),
  createdAt: z.string(),
  updatedAt: z.string(),
  ownerPid: z.number().int(),
  ownerHost: z.string(),
  /** Commit 0 of the audit repository: the project as copied in. */
  baseCommit: z.string().optional(),
  /** Commits after the snapshot (one per tool call or command). */
  commits: z.number().int().min(0),
  /** Journal id of the last sync-back, for `sync --undo`. */
  lastSync: z.string().optional(),
  /** The commit the last sync-back applied; work after it is unsynced. */
  syncedCommit: z.string().optional(),
  /** The egress policy its sandboxes run with (absent: none). */
  network: z
    .object({
      mode: z.enum(['none', 'allowlist', 'open']),
      allow: z.array(z.string()),
      deny: z.array(z.string()),
    })
    .optional(),
  /** Tokens the agent used in this session, across all its turns. */
  usage: z
    .object({ inputTokens: z.number(), outputTokens: z.number(), totalTokens: z.number() })
    .optional(),
})

export type SessionRecord = z.infer<typeof sessionRecordSchema>
