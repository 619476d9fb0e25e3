import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import { writeDurable } from './journal.js'
import { syncFailed } from './sync-errors.js'

/** A sync under way, as the project's shared state records it: where its journal is. */
export interface RegisteredSync {
  id: string
  journalDir: string
}

/**
 * Journals live with their session; a sync of another session of the same project must still
 * find one that was killed half-way. So before a sync starts changing the project it is
 * registered in the project's shared state (`<stateDir>/syncs/<id>`), and unregistered once it
 * is done or rolled back.
 */
export async function registerSync(stateDir: string, sync: RegisteredSync): Promise<void> {
  const dir = path.join(stateDir, 'syncs')
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await writeDurable(path.join(dir, sync.id), JSON.stringify({ journalDir: sync.journalDir }))
  } catch (error) {
    throw syncFailed(`cannot register the sync in ${dir}`, error, { id: sync.id })
  }
}

export async function unregisterSync(stateDir: string, id: string): Promise<void> {
  await rm(path.join(stateDir, 'syncs', id), { force: true })
}

/** Every registered sync of the project, oldest first. */
export async function registeredSyncs(stateDir: string): Promise<RegisteredSync[]> {
  const dir = path.join(stateDir, 'syncs')
  let names: string[]
  try {
    names = (await readdir(dir)).filter((name) => /^sync-[\w-]+$/.test(name)).sort()
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return []
    throw syncFailed(`cannot list the syncs under way in ${dir}`, error)
  }
  const found: RegisteredSync[] = []
  for (const id of names) {
    const journalDir = await readFile(path.join(dir, id), 'utf8').then(
      (text) => (JSON.parse(text) as { journalDir?: unknown }).journalDir,
      () => undefined,
    )
    if (typeof journalDir === 'string' && path.isAbsolute(journalDir))
      found.push({ id, journalDir })
    else await unregisterSync(stateDir, id)
  }
  return found
}
