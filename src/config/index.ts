import path from 'node:path'
import { SafeCoderError } from '../shared/errors.js'
import { checkXdgDir } from '../shared/xdg.js'
import { apiKeyLayer, envLayers } from './env.js'
import { findProjectConfig, readConfigFile, type RawConfigFile } from './files.js'
import { flagLayers } from './flags.js'
import { mergeLayers } from './merge.js'
import { assertProjectTrust } from './project-trust.js'
import { userConfigPath } from './paths.js'
import { configSchema, type Config } from './schema.js'
import type { ConfigLayer, LoadConfigOptions, LoadedConfig } from './types.js'
import { describeIssues, validateLayer } from './validate.js'

export { configSchema, type Config } from './schema.js'
export type { ConfigOrigin, LoadConfigOptions, LoadedConfig } from './types.js'
export { apiKeyVariables, envBindings } from './env.js'
export { projectSearchPlaces } from './files.js'
export { writeConfigTemplate } from './init.js'
export { projectConfigName, projectConfigPath, userConfigPath } from './paths.js'
export { redactConfig, redactSecret } from './redact.js'
export { configReportJson, describeOrigin, formatConfigReport } from './show.js'
export { configTemplate } from './template.js'

/**
 * Reads every layer and merges them, lowest first: schema defaults < user file < project file
 * (or `configFile`) < environment variables < flags. A found project file may not set the
 * host-trusted keys of project-trust.ts. The one exception: API-key variables sit
 * below the files, so a key written in a file wins. The project file is the nearest one from
 * `cwd` upward, through the nearest git root, never in the home directory or above it. Each
 * layer is validated on its own and a bad one throws CONFIG_INVALID naming its file, variable
 * or flag, so callers fail before starting anything.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const { cwd, env } = options
  // A file in place of the config folder would silently drop the user's settings: say so.
  const userFile = userConfigPath(env)
  await checkXdgDir(env, 'XDG_CONFIG_HOME', path.dirname(userFile))
  const user = await readConfigFile(userFile, { optional: true })
  const project =
    options.configFile === undefined
      ? await findProjectConfig(cwd, env)
      : await readConfigFile(path.resolve(cwd, options.configFile), {
          optional: false,
          flag: '--config',
        })
  const files = [user, project].filter((f): f is RawConfigFile => f !== undefined)
  const fileLayers = files.map(({ file, raw }): ConfigLayer => {
    const origin = { kind: 'file', path: file } as const
    const values = validateLayer(raw, origin)
    // A file the user named with --config is trusted like the user file; a found one is not.
    if (project !== undefined && file === project.file && options.configFile === undefined) {
      assertProjectTrust(file, values, userConfigPath(env))
    }
    return { origin, values }
  })
  const flags = flagLayers(options.flags ?? {})
  // The provider decides which variables apply; no variable sets the provider itself.
  const provider = parseMerged([...fileLayers, ...flags]).llm.provider
  const apiKey = apiKeyLayer(env, provider)
  const layers = [
    ...(apiKey === undefined ? [] : [apiKey]),
    ...fileLayers,
    ...envLayers(env, provider),
    ...flags,
  ]
  const { origins } = mergeLayers(layers)
  return { config: parseMerged(layers), origins, files: files.map((f) => f.file) }
}

/** The project config file `loadConfig` would read from `cwd`, if any. */
export async function findProjectConfigFile(
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  return (await findProjectConfig(cwd, env))?.file
}

// Layers are valid one by one; a failure here would be a rule spanning keys, which has no
// single source to blame.
function parseMerged(layers: readonly ConfigLayer[]): Config {
  const { raw } = mergeLayers(layers)
  const result = configSchema.safeParse(raw)
  if (result.success) return result.data
  const problems = describeIssues(raw, result.error.issues)
  throw new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid configuration: ${problems.map((p) => p.text).join('; ')}.`,
    { hint: 'These values are valid alone but not together; change one of them.' },
  )
}
