import path from 'node:path'
import { checkXdgDir, xdgBaseDir } from './xdg.js'

/** `$XDG_STATE_HOME/safe-coder` (default ~/.local/state/safe-coder): sessions and VMs live here. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  return path.join(xdgBaseDir(env, 'XDG_STATE_HOME'), 'safe-coder')
}

/**
 * {@link stateDir}, once it is known to be usable: a file in its place is a configuration error
 * naming XDG_STATE_HOME (or HOME).
 *
 * @throws SafeCoderError CONFIG_INVALID
 */
export async function openStateDir(env: NodeJS.ProcessEnv): Promise<string> {
  return checkXdgDir(env, 'XDG_STATE_HOME', stateDir(env))
}
