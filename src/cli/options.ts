import { Option, type Command } from 'commander'
import type { LoadedConfig } from '../config/index.js'
import { SafeCoderError } from '../shared/errors.js'
import { println, type CliContext } from './context.js'

/** Options every sandbox-using command takes. */
export interface CommonOptions {
  config?: string
  backend?: string
}

/** Adds --config and --backend to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'use this configuration file instead of searching the project')
    .addOption(
      new Option('-b, --backend <kind>', 'sandbox backend (overrides [isolation] backend)').choices(
        ['auto', 'docker', 'podman', 'qemu', 'firecracker'],
      ),
    )
}

/**
 * The merged configuration of `projectDir` (default: the working directory) with the command's
 * flags on top; what a trusted project file was let do is printed as a warning.
 */
export async function loadCommandConfig(
  ctx: CliContext,
  options: CommonOptions,
  extraFlags: Record<string, { value: unknown; flag: string }> = {},
  projectDir?: string,
): Promise<LoadedConfig> {
  const loaded = await readCommandConfig(ctx, options, extraFlags, projectDir)
  printConfigWarnings(ctx, loaded)
  return loaded
}

/** `loadCommandConfig` without printing (where stderr belongs to a full-screen dashboard). */
export async function readCommandConfig(
  ctx: CliContext,
  options: CommonOptions,
  extraFlags: Record<string, { value: unknown; flag: string }> = {},
  projectDir?: string,
): Promise<LoadedConfig> {
  // Loaded when a command first reads its configuration, not when its options are declared.
  const { loadConfig } = await import('../config/index.js')
  const flags: Record<string, { value: unknown; flag: string }> = { ...extraFlags }
  if (options.backend !== undefined)
    flags['isolation.backend'] = { value: options.backend, flag: '--backend' }
  return loadConfig({
    cwd: ctx.cwd,
    env: ctx.env,
    flags,
    ...(projectDir === undefined ? {} : { projectDir }),
    ...(options.config === undefined ? {} : { configFile: options.config }),
  })
}

/** A trusted project file widening the user's settings is never silent. */
export function printConfigWarnings(ctx: CliContext, loaded: LoadedConfig): void {
  for (const warning of loaded.warnings) println(ctx.stderr, `safe-coder: WARNING: ${warning}`)
}

/** Options of the commands that start sandboxes (`exec`, `run`, `chat`, `tui`). */
export interface NetworkOptions {
  network?: 'none' | 'allowlist' | 'open'
  allowHost?: string[]
}

/** Adds --network and --allow-host to a command. */
export function withNetworkOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--network <mode>', 'egress of the sandbox (overrides [network] mode)').choices([
        'none',
        'allowlist',
        'open',
      ]),
    )
    .option(
      '--allow-host <host>',
      'let the sandbox reach this host through the logging proxy (repeatable; HOST, HOST:PORT, *.DOMAIN, preset:npm)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
}

const durationUnits: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/**
 * A duration option's value in milliseconds: a whole number and a unit, `30m`, `12h`, `7d`
 * (also `s` and `w`). A bare number is refused: minutes and days are both plausible.
 */
export function parseDuration(value: string, option: string): number {
  const match = /^(\d{1,9})([smhdw])$/.exec(value.trim())
  const unit = match?.[2] === undefined ? undefined : durationUnits[match[2]]
  if (match?.[1] === undefined || unit === undefined) {
    throw new SafeCoderError(
      'USAGE',
      `${option} takes a duration such as 7d, 12h or 30m, got ${JSON.stringify(value)}.`,
      { hint: `For example: ${option} 7d (units: s, m, h, d, w).` },
    )
  }
  return Number(match[1]) * unit
}

/** -p/--path, or the hidden old --project; both is fine only when they agree. */
export function pathOption(options: { path?: string; project?: string }): string | undefined {
  const { path: given, project } = options
  if (given !== undefined && project !== undefined && given !== project) {
    throw new SafeCoderError(
      'USAGE',
      `--path ${given} and --project ${project} name different projects.`,
      { hint: '--project is the old name of --path: give only --path.' },
    )
  }
  return given ?? project
}
