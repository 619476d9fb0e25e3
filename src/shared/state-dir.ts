import os from 'node:os'
import path from 'node:path'

/** `$XDG_STATE_HOME/safe-coder` (default ~/.local/state/safe-coder): sessions and VMs live here. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== ''
      ? env.XDG_STATE_HOME
      : path.join(env.HOME ?? os.homedir(), '.local/state')
  return path.join(base, 'safe-coder')
}
