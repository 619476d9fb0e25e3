import { realpath } from 'node:fs/promises'
import path from 'node:path'
import { isSafeCoderError, SafeCoderError } from '../shared/errors.js'
import { processOwner } from './file-safety.js'
import { findProjectFile, projectSearchDirectories, readCandidate } from './project-search.js'
import { listTrust, revokeTrust, writeTrust, type TrustRecord } from './trust-store.js'

export type { TrustRecord } from './trust-store.js'

/** A trusted project file and whether it still holds what was trusted. */
export interface TrustStatus extends TrustRecord {
  state: 'unchanged' | 'changed' | 'missing' | 'unreadable'
}

/**
 * `safe-coder trust [PATH]`: records the current contents of the config file PATH's search
 * finds, so that file may widen what the user allows (and, being JavaScript, may run). Nothing
 * is executed here. A JavaScript file in a place another user can write is never trusted.
 */
export async function trustProject(
  projectDir: string,
  env: NodeJS.ProcessEnv,
  now: Date = new Date(),
): Promise<{ record: TrustRecord; script: boolean; risks: string[] }> {
  const found = await findProjectFile(projectDir, env, processOwner())
  if (found === undefined) {
    const searched = await projectSearchDirectories(projectDir, env)
    throw new SafeCoderError(
      'NOT_FOUND',
      `No project config file to trust for ${projectDir}${searched.length === 0 ? ' (project files are not searched for in the home directory)' : ` (searched ${searched.join(', ')})`}.`,
      { hint: 'Trust applies to a project config file such as .safecoderrc.toml; there is none.' },
    )
  }
  if (found.script && found.risks.length > 0) {
    throw new SafeCoderError(
      'CONFIG_INVALID',
      `Not trusting ${found.file}: ${found.risks.join(' and ')}, and a JavaScript config is never run from a place another user can write.`,
      {
        hint: 'Fix its owner or permissions (chown, chmod go-w) first.',
        data: { file: found.file },
      },
    )
  }
  const record: TrustRecord = {
    file: found.realFile,
    directory: await realpath(found.directory),
    digest: found.digest,
    trustedAt: now.toISOString(),
  }
  await writeTrust(env, record)
  return { record, script: found.script, risks: found.risks }
}

/** Every trusted file, and whether it still holds what was trusted. */
export async function listTrustedProjects(env: NodeJS.ProcessEnv): Promise<TrustStatus[]> {
  return Promise.all(
    (await listTrust(env)).map(async (record): Promise<TrustStatus> => {
      try {
        const now = await readCandidate(record.file, path.dirname(record.file), undefined)
        if (now === undefined) return { ...record, state: 'missing' }
        return { ...record, state: now.digest === record.digest ? 'unchanged' : 'changed' }
      } catch (error) {
        if (isSafeCoderError(error)) return { ...record, state: 'unreadable' }
        throw error
      }
    }),
  )
}

/** Forgets the trust of PATH: a project directory, or a trusted file itself. */
export async function revokeProjectTrust(
  target: string,
  env: NodeJS.ProcessEnv,
): Promise<TrustRecord[]> {
  const real = await realpath(target).catch(() => path.resolve(target))
  const found = await findProjectFile(target, env, undefined).catch(() => undefined)
  return revokeTrust(
    env,
    (r) => r.directory === real || r.file === real || r.file === found?.realFile,
  )
}
