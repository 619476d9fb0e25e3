import { lstat } from 'node:fs/promises'
import path from 'node:path'
import { cosmiconfig } from 'cosmiconfig'
import { errnoOf, isSafeCoderError, SafeCoderError } from '../shared/errors.js'
import { configLoaders } from './loaders.js'
import { homeDirectory } from './paths.js'

/** A config file's contents as parsed, before validation. */
export interface RawConfigFile {
  file: string
  raw: unknown
}

/** Where a project's configuration may live, checked in this order in each directory. */
export const projectSearchPlaces = [
  'package.json',
  '.safecoderrc',
  '.safecoderrc.json',
  '.safecoderrc.yaml',
  '.safecoderrc.yml',
  '.safecoderrc.toml',
  'safecoder.config.js',
  'safecoder.config.mjs',
  'safecoder.config.cjs',
]

const formatsHint =
  'Use .toml, .json, .yaml, .yml, .js, .mjs or .cjs, or a file without extension holding JSON or YAML.'

// Directories are walked here rather than by cosmiconfig's "global" strategy, which would also
// read an OS-wide config directory found through process.env instead of the env we were given.
function createExplorer(): ReturnType<typeof cosmiconfig> {
  return cosmiconfig('safecoder', {
    searchPlaces: projectSearchPlaces,
    loaders: configLoaders,
    searchStrategy: 'none',
    // An empty or all-comments file is still the project's config file: it stops the search.
    ignoreEmptySearchPlaces: false,
    cache: false,
  })
}

/**
 * The nearest project config file: searched from `cwd` upward through the nearest git root (a
 * directory holding `.git`), never in the home directory or above it, since user-wide settings
 * live in the user file. Outside home and outside any repository the search ends at `/`.
 */
export async function findProjectConfig(
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<RawConfigFile | undefined> {
  const explorer = createExplorer()
  for (const directory of await projectSearchDirectories(cwd, env)) {
    try {
      const result = await explorer.search(directory)
      if (result !== null) return { file: result.filepath, raw: result.config as unknown }
    } catch (error) {
      throw toLoadError(error, filepathOf(error) ?? directory)
    }
  }
  return undefined
}

/** Reads one config file; a missing file is `undefined` when optional, NOT_FOUND otherwise. */
export async function readConfigFile(
  file: string,
  options: { optional: boolean; flag?: string },
): Promise<RawConfigFile | undefined> {
  try {
    const result = await createExplorer().load(file)
    return { file, raw: result?.config as unknown }
  } catch (error) {
    const errno = errnoOf(error)
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      if (options.optional) return undefined
      const given = options.flag === undefined ? '' : ` (given to ${options.flag})`
      throw new SafeCoderError('NOT_FOUND', `Configuration file not found: ${file}${given}.`, {
        hint: 'Check the path, or run `safe-coder config init` to create a project file.',
        data: { file },
      })
    }
    throw toLoadError(error, file)
  }
}

/** The directories the project search visits, nearest first. */
export async function projectSearchDirectories(
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const home = path.resolve(homeDirectory(env))
  const directories: string[] = []
  for (let directory = path.resolve(cwd); directory !== home;) {
    directories.push(directory)
    if (await exists(path.join(directory, '.git'))) break
    const parent = path.dirname(directory)
    if (parent === directory) break
    directory = parent
  }
  return directories
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file)
    return true
  } catch {
    return false
  }
}

function filepathOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('filepath' in error)) return undefined
  return typeof error.filepath === 'string' ? error.filepath : undefined
}

// Loader errors are already ours; anything else (a JS config that throws, an unknown
// extension, an unreadable file) is reported against the file.
function toLoadError(error: unknown, file: string): SafeCoderError {
  if (isSafeCoderError(error)) return error
  const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
  const unsupported = error instanceof Error && error.message.startsWith('No loader specified')
  return new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid configuration in ${file}: cannot load it (${reason ?? 'unknown error'}).`,
    {
      hint: unsupported
        ? formatsHint
        : 'Fix the file, or run `safe-coder config show` to check it.',
      cause: error,
      data: { file },
    },
  )
}
