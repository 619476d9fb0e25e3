import type { FileOwner } from './file-safety.js'
import type { HostLimits } from './host-limits.js'
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
  /** The working directory: `configFile` is resolved against it. */
  cwd: string
  /** The project whose config file is searched for (default: `cwd`). */
  projectDir?: string
  /** HOME, XDG_CONFIG_HOME and the variables that override keys are read from here only. */
  env: NodeJS.ProcessEnv
  /** CLI flags, as key paths: { 'isolation.backend': { value: 'docker', flag: '--backend' } } */
  flags?: Record<string, { value: unknown; flag: string }>
  /** --config FILE: use this file instead of searching the project. */
  configFile?: string
  /** The user a project's config file must belong to (default: this process's user). */
  owner?: FileOwner
  /** The machine's CPUs and memory, the ceiling of every limit (default: this machine's). */
  host?: HostLimits
}

export interface LoadedConfig {
  /** Parsed, defaults applied. */
  config: Config
  /** Every leaf key path ('docker.cpus') → where its value came from. */
  origins: Record<string, ConfigOrigin>
  /** Config files that were read, lowest precedence first. */
  files: string[]
  /** The project file that was read, and whether the user trusted it with `safe-coder trust`. */
  project?: { file: string; trusted: boolean }
  /** What the user must be told loudly: what a trusted project file was let do. */
  warnings: string[]
}

/** One validated layer of raw values (sections of keys), and who set them. */
export interface ConfigLayer {
  origin: LayerSource
  values: Record<string, unknown>
}
