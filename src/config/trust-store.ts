import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf, SafeCoderError } from '../shared/errors.js'
import { writeFileAtomic } from '../shared/durable-file.js'
import { isPlainObject } from './describe.js'
import { userConfigPath } from './paths.js'

/**
 * One project config file the user trusted with `safe-coder trust`: its real path and a digest
 * of what it configured then. A file whose digest differs is no longer trusted, so a pull that
 * changes it needs a new `trust` (see docs/config.md).
 */
export interface TrustRecord {
  file: string
  directory: string
  digest: string
  trustedAt: string
}

/** `$XDG_CONFIG_HOME/safe-coder/trusted/`: one small file per trusted config file. */
export function trustStoreDir(env: NodeJS.ProcessEnv): string {
  return path.join(path.dirname(userConfigPath(env)), 'trusted')
}

// One file per record, named by the config file's path: two `trust` commands never lose
// each other's writes, and each write is atomic.
function recordPath(env: NodeJS.ProcessEnv, realFile: string): string {
  const name = createHash('sha256').update(realFile).digest('hex').slice(0, 32)
  return path.join(trustStoreDir(env), `${name}.json`)
}

/** The record for a config file (by real path), if the user ever trusted it. */
export async function readTrust(
  env: NodeJS.ProcessEnv,
  realFile: string,
): Promise<TrustRecord | undefined> {
  const record = await readRecord(recordPath(env, realFile))
  return record?.file === realFile ? record : undefined
}

/** Records trust of a config file's current contents, replacing an older record of it. */
export async function writeTrust(env: NodeJS.ProcessEnv, record: TrustRecord): Promise<void> {
  await mkdir(trustStoreDir(env), { recursive: true, mode: 0o700 })
  await writeFileAtomic(recordPath(env, record.file), `${JSON.stringify(record, null, 2)}\n`)
}

/** Every record, oldest first. */
export async function listTrust(env: NodeJS.ProcessEnv): Promise<TrustRecord[]> {
  let names: string[]
  try {
    names = await readdir(trustStoreDir(env))
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return []
    throw error
  }
  const records = await Promise.all(
    names
      .filter((name) => name.endsWith('.json'))
      .map((name) => readRecord(path.join(trustStoreDir(env), name))),
  )
  return records
    .filter((r): r is TrustRecord => r !== undefined)
    .sort((a, b) => a.trustedAt.localeCompare(b.trustedAt))
}

/** Removes the records `matches` picks; returns them. */
export async function revokeTrust(
  env: NodeJS.ProcessEnv,
  matches: (record: TrustRecord) => boolean,
): Promise<TrustRecord[]> {
  const removed = (await listTrust(env)).filter(matches)
  await Promise.all(removed.map((r) => rm(recordPath(env, r.file), { force: true })))
  return removed
}

async function readRecord(file: string): Promise<TrustRecord | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = undefined
  }
  if (isRecord(value)) return value
  throw new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid trust record ${file}: it is not a record written by \`safe-coder trust\`.`,
    { hint: 'Remove it; then run `safe-coder trust` again for the project.', data: { file } },
  )
}

function isRecord(value: unknown): value is TrustRecord {
  return (
    isPlainObject(value) &&
    ['file', 'directory', 'digest', 'trustedAt'].every((key) => typeof value[key] === 'string')
  )
}
