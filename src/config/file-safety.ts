import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'

/** The user a project's config file must belong to. */
export interface FileOwner {
  uid: number
  gid: number
}

/** This process's user; undefined where there are no uids (Windows): nothing is checked there. */
export function processOwner(): FileOwner | undefined {
  const uid = process.getuid?.()
  const gid = process.getgid?.()
  return uid === undefined || gid === undefined ? undefined : { uid, gid }
}

/**
 * Why another user could have planted or could replace a config file, like git's
 * `safe.directory`: the file or a directory holding it is owned by someone else, or is writable
 * by other users. Root may own them (root can change anything of yours anyway). Group write is
 * fine on a user-private group (the group whose id is your uid and your primary group, which is
 * why Debian hands such users umask 002). Empty when the file is safe to read.
 */
export async function plantingRisks(
  file: Stats,
  directories: readonly string[],
  owner: FileOwner | undefined,
): Promise<string[]> {
  if (owner === undefined) return []
  const risks = ownershipRisks(file, 'it', owner)
  for (const directory of new Set(directories)) {
    risks.push(...ownershipRisks(await stat(directory), `its directory ${directory}`, owner))
  }
  return risks
}

/** The risks of one file or directory (`what` names it in the sentence). */
export function ownershipRisks(
  stats: Pick<Stats, 'uid' | 'gid' | 'mode'>,
  what: string,
  owner: FileOwner,
): string[] {
  const risks: string[] = []
  if (stats.uid !== owner.uid && stats.uid !== 0)
    risks.push(`${what} is owned by uid ${stats.uid}, not by you (uid ${owner.uid})`)
  const privateGroup = stats.gid === owner.gid && owner.gid === owner.uid
  const othersWrite = (stats.mode & 0o002) !== 0 || ((stats.mode & 0o020) !== 0 && !privateGroup)
  if (othersWrite) {
    const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0')
    risks.push(`${what} is writable by other users (mode ${mode})`)
  }
  return risks
}
