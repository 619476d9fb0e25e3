import os from 'node:os'
import path from 'node:path'

/** The project file `config init` writes; the search also reads the other formats. */
export const projectConfigName = '.safecoderrc.toml'

/** The home directory as the given environment has it (tests and callers pass their own). */
export function homeDirectory(env: NodeJS.ProcessEnv): string {
  return env.HOME !== undefined && env.HOME !== '' ? env.HOME : os.homedir()
}

/**
 * The user-wide file: `$XDG_CONFIG_HOME/safe-coder/config.toml`, where XDG_CONFIG_HOME defaults
 * to `~/.config` (and, as the XDG spec says, is ignored unless absolute).
 */
export function userConfigPath(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME
  const base =
    xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(homeDirectory(env), '.config')
  return path.join(base, 'safe-coder', 'config.toml')
}

/** The project file in a directory, as `config init` writes it. */
export function projectConfigPath(directory: string): string {
  return path.resolve(directory, projectConfigName)
}
