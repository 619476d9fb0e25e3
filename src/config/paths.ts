import path from 'node:path'
import { xdgBaseDir } from '../shared/xdg.js'

export { homeDirectory } from '../shared/xdg.js'

/** The project file `config init` writes; the search also reads the other formats. */
export const projectConfigName = '.safecoderrc.toml'

/**
 * The user-wide file: `$XDG_CONFIG_HOME/safe-coder/config.toml`, where XDG_CONFIG_HOME defaults
 * to `~/.config` (and, as the XDG spec says, is ignored unless absolute).
 */
export function userConfigPath(env: NodeJS.ProcessEnv): string {
  return path.join(xdgBaseDir(env, 'XDG_CONFIG_HOME'), 'safe-coder', 'config.toml')
}

/** The project file in a directory, as `config init` writes it. */
export function projectConfigPath(directory: string): string {
  return path.resolve(directory, projectConfigName)
}
