import path from 'node:path'
import { SafeCoderError } from '../shared/errors.js'
import { checkXdgDir } from '../shared/xdg.js'
import { apiKeyLayer, envLayers } from './env.js'
import { processOwner } from './file-safety.js'
import { readConfigFile } from './files.js'
import { flagLayers } from './flags.js'
import { assertWithinHost, hostLimits } from './host-limits.js'
import { mergeLayers } from './merge.js'
import { userConfigPath } from './paths.js'
import { loadProjectFile } from './project-file.js'
import { configSchema, type Config } from './schema.js'
import type { ConfigLayer, LoadConfigOptions, LoadedConfig } from './types.js'
import { describeIssues, validateLayer } from './validate.js'

/**
 * Reads every layer and merges them, lowest first: schema defaults < user file < project file
 * (or `configFile`) < environment variables < flags. The one exception: API-key variables sit
 * below the files, so a key written in a file wins. The project file is the one of
 * `projectDir` (project-file.ts: found up to the project root, refused when another user could
 * have planted it, and allowed only to narrow the defaults and the user file unless trusted).
 * A file named with `configFile` is the user's choice and is trusted like the user file. Each
 * layer is validated on its own and a bad one throws CONFIG_INVALID naming its file, variable
 * or flag, so callers fail before starting anything; so does a limit above the machine's.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const { cwd, env } = options
  const userFile = userConfigPath(env)
  // A file in place of the config folder would silently drop the user's settings: say so.
  await checkXdgDir(env, 'XDG_CONFIG_HOME', path.dirname(userFile))
  const user = await readConfigFile(userFile, { optional: true })
  const userLayers = user === undefined ? [] : [fileLayer(user.file, user.raw)]
  let projectLayers: ConfigLayer[] = []
  let project: LoadedConfig['project']
  const warnings: string[] = []
  if (options.configFile !== undefined) {
    const file = path.resolve(cwd, options.configFile)
    const named = await readConfigFile(file, { optional: false, flag: '--config' })
    if (named !== undefined) projectLayers = [fileLayer(named.file, named.raw)]
  } else {
    const { origins } = mergeLayers(userLayers)
    const baseline = { config: parseMerged(userLayers), origins, userFile }
    const owner = options.owner ?? processOwner()
    const found = await loadProjectFile(options.projectDir ?? cwd, env, owner, baseline)
    if (found !== undefined) {
      projectLayers = [found.layer]
      project = { file: found.file, trusted: found.trusted }
      warnings.push(...found.warnings)
    }
  }
  const fileLayers = [...userLayers, ...projectLayers]
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
  const config = parseMerged(layers)
  assertWithinHost(config, origins, options.host ?? hostLimits())
  const files = fileLayers.flatMap((l) => (l.origin.kind === 'file' ? [l.origin.path] : []))
  return { config, origins, files, warnings, ...(project === undefined ? {} : { project }) }
}

function fileLayer(file: string, raw: unknown): ConfigLayer {
  const origin = { kind: 'file', path: file } as const
  return { origin, values: validateLayer(raw, origin) }
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
