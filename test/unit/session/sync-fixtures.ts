import { lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { blobOid, commitChanges, manifestAt } from '../../../src/git/index.js'
import type { SandboxBackend } from '../../../src/sandbox/types.js'
import {
  applySessionSync,
  planSessionSync,
  type SessionSyncContext,
  type SyncSelection,
} from '../../../src/session/session-sync.js'
import { SessionStore } from '../../../src/session/store.js'
import { auditRepo, createWorkspaceSession } from '../../../src/session/workspace-session.js'
import type { SyncResult } from '../../../src/workspace/sync.js'
import { tempDir, writeTree } from '../workspace/fixtures.js'

export const tracking = { maxFileBytes: 1024 * 1024, exclude: [] }

/** Sessions here never start a sandbox: their "tool calls" edit the mirror and commit. */
const noSandboxes: SandboxBackend = {
  kind: 'docker',
  probe: () => Promise.reject(new Error('no sandboxes in this test')),
  create: () => Promise.reject(new Error('no sandboxes in this test')),
  list: () => Promise.resolve([]),
  remove: () => Promise.resolve(),
  imageStatus: () => Promise.reject(new Error('no sandboxes in this test')),
}

/** A project, a state dir and the sync context the CLI would build for them. */
export async function syncWorld(files: Record<string, string>) {
  const project = await tempDir('safe-coder-sync-project-')
  await writeTree(project, files)
  const store = new SessionStore(await tempDir('safe-coder-sync-state-'))
  const ctx: SessionSyncContext = { store, tracking }
  return { project, store, ctx }
}

export type World = Awaited<ReturnType<typeof syncWorld>>

/** A session of the world's project, copied in as it is now. */
export async function newSession(world: World): Promise<string> {
  const { record } = await createWorkspaceSession({
    store: world.store,
    projectDir: world.project,
    backend: noSandboxes,
    tracking,
  })
  return record.id
}

/**
 * One tool call: edits the session's mirror (content, `null` deletes a file or a whole
 * directory) and records it as a commit, as a shell command would.
 */
export async function act(
  world: World,
  id: string,
  edits: Record<string, string | null>,
): Promise<void> {
  const work = world.store.paths(id).work
  for (const [rel, content] of Object.entries(edits)) {
    const file = path.join(work, rel)
    if (content === null) await rm(file, { recursive: true, force: true })
    else {
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, content)
    }
  }
  const repo = await auditRepo(world.store, id, tracking.maxFileBytes)
  await commitChanges(repo, { message: 'exec: edit', scan: true })
}

/** Plan and apply in one go, as `safe-coder sync --yes` does. */
export async function syncOnce(
  ctx: SessionSyncContext,
  id: string,
  selection: SyncSelection = {},
): Promise<SyncResult> {
  const planned = await planSessionSync(ctx, id, selection)
  return applySessionSync(ctx, planned, { confirmRisky: true })
}

/**
 * Every entry of a tree (directories included, `.git` skipped) as `path kind id`: files by git
 * blob id and mode, so a project compares with a session's HEAD.
 */
export async function projectState(root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of (await readdir(path.join(root, rel))).sort()) {
    const child = rel === '' ? name : `${rel}/${name}`
    if (name === '.git') continue
    const file = path.join(root, child)
    const stats = await lstat(file)
    if (stats.isDirectory()) out.push(`${child}/`, ...(await projectState(root, child)))
    else if (stats.isSymbolicLink())
      out.push(`${child} 120000 ${blobOid(Buffer.from(await readlink(file)))}`)
    else {
      const mode = (stats.mode & 0o100) === 0 ? '100644' : '100755'
      out.push(`${child} ${mode} ${blobOid(await readFile(file))}`)
    }
  }
  return rel === '' ? out.sort() : out
}

/** The session's HEAD in the form of `projectState`: its files and the folders they imply. */
export async function headState(world: World, id: string): Promise<string[]> {
  const repo = await auditRepo(world.store, id, tracking.maxFileBytes)
  const manifest = await manifestAt(repo, 'HEAD')
  const out = new Set<string>()
  for (const [rel, entry] of Object.entries(manifest)) {
    out.add(`${rel} ${entry.mode.toString(8)} ${entry.oid}`)
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1))
      out.add(`${rel.slice(0, i)}/`)
  }
  return [...out].sort()
}
