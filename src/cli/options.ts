import { Option, type Command } from 'commander'
import { loadConfig, type LoadedConfig } from '../config/index.js'
import type { CliContext } from './context.js'

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

/** The merged configuration with the command's flags on top. */
export function loadCommandConfig(
  ctx: CliContext,
  options: CommonOptions,
  extraFlags: Record<string, { value: unknown; flag: string }> = {},
): Promise<LoadedConfig> {
  const flags: Record<string, { value: unknown; flag: string }> = { ...extraFlags }
  if (options.backend !== undefined)
    flags['isolation.backend'] = { value: options.backend, flag: '--backend' }
  return loadConfig({
    cwd: ctx.cwd,
    env: ctx.env,
    flags,
    ...(options.config === undefined ? {} : { configFile: options.config }),
  })
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
