import { SafeCoderError } from '../shared/errors.js'
import { formatKeyPath, valueAt } from './describe.js'

/**
 * Keys a project's own config file may not set. A project file travels with a repository the
 * user may not have written; these keys would let it pick a program Safe Coder runs on the
 * host, the engine socket it talks to, the server the user's API key is sent to, or open the
 * sandbox's network (a hostile repository would grant its own agent a way out; `deny` only
 * narrows, so a project may set it).
 */
export const hostTrustedKeys: readonly (readonly string[])[] = [
  ['vm', 'qemu_bin'],
  ['vm', 'firecracker_bin'],
  ['docker', 'socket'],
  ['llm', 'base_url'],
  ['network', 'mode'],
  ['network', 'allow'],
]

/** Throws CONFIG_INVALID when a searched-for project file sets a host-trusted key. */
export function assertProjectTrust(
  file: string,
  values: Record<string, unknown>,
  userFile: string,
): void {
  const found = hostTrustedKeys.filter((key) => valueAt(values, key) !== undefined)
  if (found.length === 0) return
  const keys = found.map((key) => formatKeyPath(key)).join(', ')
  throw new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid configuration in ${file}: ${keys} may not be set in a project file, because a repository could use ${found.length === 1 ? 'it' : 'them'} to run a program on your machine, send your API key elsewhere or open a way out of the sandbox.`,
    {
      hint: `Move ${found.length === 1 ? 'it' : 'them'} to ${userFile}, pass the file explicitly with --config, or use the environment variable or flag.`,
      data: { file, keys: found.map((key) => key.join('.')) },
    },
  )
}
