import { cosmiconfig } from 'cosmiconfig'
import { errnoOf, isSafeCoderError, SafeCoderError } from '../shared/errors.js'
import { configLoaders } from './loaders.js'

/** A config file's contents as parsed, before validation. */
export interface RawConfigFile {
  file: string
  raw: unknown
}

const formatsHint =
  'Use .toml, .json, .yaml, .yml, .js, .mjs or .cjs, or a file without extension holding JSON or YAML.'

// Only files the user named are loaded here (the user file, --config); the project search is
// project-search.ts, which checks a file before anything executes it.
function createExplorer(): ReturnType<typeof cosmiconfig> {
  return cosmiconfig('safecoder', {
    loaders: configLoaders,
    searchStrategy: 'none',
    cache: false,
  })
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

// Loader errors are already ours; anything else (a JS config that throws, an unknown
// extension, an unreadable file) is reported against the file.
export function toLoadError(error: unknown, file: string): SafeCoderError {
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
