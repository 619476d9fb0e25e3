import type { Config } from './schema.js'

/** Where one key's value came from; `config show` prints it next to the value. */
export type ConfigOrigin =
  | { kind: 'default' }
  | { kind: 'file'; path: string }
  | { kind: 'env'; variable: string }
  | { kind: 'flag'; flag: string }

/** A place that sets values: everything but the schema defaults. */
export type LayerSource = Exclude<ConfigOrigin, { kind: 'default' }>

export interface LoadConfigOptions {
  /** Where the project search starts. */
  cwd: string
  /** HOME, XDG_CONFIG_HOME and the variables that override keys are read from here only. */
  env: NodeJS.ProcessEnv
  /** CLI flags, as key paths: { 'isolation.backend': { value: 'docker', flag: '--backend' } } */
  flags?: Record<string, { value: unknown; flag: string }>
  /** --config FILE: use this file instead of searching the project. */
  configFile?: string
}

export interface LoadedConfig {
  /** Parsed, defaults applied. */
  config: Config
  /** Every leaf key path ('docker.cpus') → where its value came from. */
  origins: Record<string, ConfigOrigin>
  /** Config files that were read, lowest precedence first. */
  files: string[]
}

/** One validated layer of raw values (sections of keys), and who set them. */
export interface ConfigLayer {
  origin: LayerSource
  values: Record<string, unknown>
}
