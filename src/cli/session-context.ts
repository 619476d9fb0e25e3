import path from 'node:path'
import { combineConfigs, stricterKeys, type Config } from '../config/index.js'
import { auditRepo, incompleteSession } from '../session/history.js'
import type { TrackingOptions } from '../session/workspace-session.js'
import { SessionStore } from '../session/store.js'
import type { AuditRepo } from '../git/index.js'
import { SafeCoderError } from '../shared/errors.js'
import type { CliContext } from './context.js'
import { loadCommandConfig, readCommandConfig, type CommonOptions } from './options.js'
import { openStateDir } from './state-dir.js'

type Flags = Record<string, { value: unknown; flag: string }>

/** What the session commands share: configuration, the store, tracking limits. */
export interface SessionContext {
  /** The projects' configuration (several projects: combined, each narrowing kept). */
  config: Config
  store: SessionStore
  /** Tracking of the (first) project. */
  tracking: TrackingOptions
  /** Tracking of a new session's project: its own excludes (see `projectTracking` below). */
  projectTracking: (projectDir: string) => Promise<TrackingOptions>
  repo(id: string): Promise<AuditRepo>
}

/**
 * The session commands' context. Configuration follows the project: it is that of
 * `projectDirs` (default: the working directory), each project's own file.
 */
export async function openSessionContext(
  ctx: CliContext,
  options: CommonOptions,
  flags: Flags = {},
  projectDirs: readonly string[] = [ctx.cwd],
): Promise<SessionContext> {
  const dirs = [...new Set(projectDirs.map((dir) => path.resolve(ctx.cwd, dir)))]
  const projects = []
  for (const projectDir of dirs.length === 0 ? [ctx.cwd] : dirs) {
    const { config } = await loadCommandConfig(ctx, options, flags, projectDir)
    projects.push({ projectDir, config })
  }
  const config = projects.length === 1 ? (projects[0]?.config as Config) : combineConfigs(projects)
  const store = new SessionStore(await openStateDir(ctx.env))
  const maxFileBytes = config.workspace.max_file_mb * 1024 * 1024
  const excludes = new Map(projects.map((p) => [p.projectDir, p.config.workspace.exclude]))
  const tracking = { maxFileBytes, exclude: projects[0]?.config.workspace.exclude ?? [] }
  // A project opened later (typed into the dashboard) runs with this process's settings, so one
  // that asks for stricter ones is refused rather than silently run looser.
  const projectTracking = async (projectDir: string): Promise<TrackingOptions> => {
    const dir = path.resolve(ctx.cwd, projectDir)
    const known = excludes.get(dir)
    if (known !== undefined) return { maxFileBytes, exclude: known }
    const own = (await readCommandConfig(ctx, options, flags, dir)).config
    const stricter = stricterKeys(config, own)
    if (stricter.length > 0)
      throw new SafeCoderError(
        'USAGE',
        `The project ${dir} asks for stricter settings than this process runs with: ${stricter.join(', ')}.`,
        { hint: `Open it on its own: safe-coder tui -p ${dir}`, data: { projectDir: dir } },
      )
    return { maxFileBytes, exclude: own.workspace.exclude }
  }
  const repo = async (id: string): Promise<AuditRepo> => {
    if ((await store.read(id)).baseCommit === undefined) throw incompleteSession(id)
    return auditRepo(store, id, tracking.maxFileBytes)
  }
  return { config, store, tracking, projectTracking, repo }
}

/** The project a saved session was made from: its configuration applies to it. */
export async function sessionProjectDir(ctx: CliContext, id: string): Promise<string> {
  return (await new SessionStore(await openStateDir(ctx.env)).read(id)).projectPath
}
