import { processOwner } from './file-safety.js'
import { findProjectFile } from './project-search.js'

export { configSchema, type Config } from './schema.js'
export type { ConfigOrigin, LoadConfigOptions, LoadedConfig } from './types.js'
export { apiKeyVariables, envBindings } from './env.js'
export { combineConfigs, stricterKeys, type ProjectConfig } from './combine.js'
export { loadConfig } from './load.js'
export { projectSearchPlaces } from './project-search.js'
export { writeConfigTemplate } from './init.js'
export { projectConfigName, projectConfigPath, userConfigPath } from './paths.js'
export { redactConfig, redactSecret } from './redact.js'
export { configReportJson, describeOrigin, formatConfigReport } from './show.js'
export { configTemplate } from './template.js'
export {
  listTrustedProjects,
  revokeProjectTrust,
  trustProject,
  type TrustRecord,
  type TrustStatus,
} from './trust.js'

/** The project config file `loadConfig` would read for `projectDir`, if any. */
export async function findProjectConfigFile(
  projectDir: string,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  return (await findProjectFile(projectDir, env, processOwner()))?.file
}
