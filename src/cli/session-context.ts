import type { Config } from '../config/index.js'
import { auditRepo, incompleteSession, type TrackingOptions } from '../session/workspace-session.js'
import { SessionStore } from '../session/store.js'
import type { AuditRepo } from '../git/index.js'
import type { CliContext } from './context.js'
import { loadCommandConfig, type CommonOptions } from './options.js'
import { openStateDir } from './state-dir.js'

/** What the session commands share: configuration, the store, tracking limits. */
export interface SessionContext {
  config: Config
  store: SessionStore
  tracking: TrackingOptions
  repo(id: string): Promise<AuditRepo>
}

export async function openSessionContext(
  ctx: CliContext,
  options: CommonOptions,
  flags: Record<string, { value: unknown; flag: string }> = {},
): Promise<SessionContext> {
  const { config } = await loadCommandConfig(ctx, options, flags)
  const store = new SessionStore(await openStateDir(ctx.env))
  const tracking = {
    maxFileBytes: config.workspace.max_file_mb * 1024 * 1024,
    exclude: config.workspace.exclude,
  }
  const repo = async (id: string): Promise<AuditRepo> => {
    if ((await store.read(id)).baseCommit === undefined) throw incompleteSession(id)
    return auditRepo(store, id, tracking.maxFileBytes)
  }
  return { config, store, tracking, repo }
}
