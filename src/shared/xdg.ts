import { stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { errnoOf, SafeCoderError } from './errors.js'

/** The XDG base directories Safe Coder uses, and their defaults under the home directory. */
const defaults = {
  XDG_CONFIG_HOME: '.config',
  XDG_STATE_HOME: '.local/state',
  XDG_CACHE_HOME: '.cache',
} as const

export type XdgVariable = keyof typeof defaults

/** The home directory as the given environment has it (tests and callers pass their own). */
export function homeDirectory(env: NodeJS.ProcessEnv): string {
  return env.HOME !== undefined && env.HOME !== '' ? env.HOME : os.homedir()
}

// The XDG Base Directory spec: "If an implementation encounters a relative path in any of these
// variables it should consider the path invalid and ignore it."
/** `$XDG_…_HOME` when it is an absolute path, else its default under the home directory. */
export function xdgBaseDir(env: NodeJS.ProcessEnv, variable: XdgVariable): string {
  const value = env[variable]
  return value !== undefined && path.isAbsolute(value)
    ? value
    : path.join(homeDirectory(env), defaults[variable])
}

/**
 * Returns `dir` (a folder below an XDG base directory) once it or its nearest existing ancestor
 * is a directory, so it can be created; a file in the way is the user's setting to fix, reported
 * naming the variable (or HOME) it came from instead of failing later as a bug.
 *
 * @throws SafeCoderError CONFIG_INVALID
 */
export async function checkXdgDir(
  env: NodeJS.ProcessEnv,
  variable: XdgVariable,
  dir: string,
): Promise<string> {
  for (let current = dir; ; current = path.dirname(current)) {
    let problem: string
    try {
      if ((await stat(current)).isDirectory()) return dir
      problem = `${current} is not a directory`
    } catch (error) {
      const errno = errnoOf(error)
      if ((errno === 'ENOENT' || errno === 'ENOTDIR') && path.dirname(current) !== current) {
        continue
      }
      problem = `${current} cannot be read (${errno ?? String(error)})`
    }
    throw unusable(env, variable, dir, problem)
  }
}

function unusable(
  env: NodeJS.ProcessEnv,
  variable: XdgVariable,
  dir: string,
  problem: string,
): SafeCoderError {
  const value = env[variable]
  const fromVariable = value !== undefined && path.isAbsolute(value)
  const origin = fromVariable ? `${variable}=${value}` : `HOME=${homeDirectory(env)}`
  return new SafeCoderError('CONFIG_INVALID', `Cannot use ${dir} (from ${origin}): ${problem}.`, {
    hint: fromVariable
      ? `Point ${variable} at a directory (an absolute path), or unset it to use ~/${defaults[variable]}.`
      : `Move that file away, or set ${variable} to an absolute directory.`,
    data: { variable, dir },
  })
}
