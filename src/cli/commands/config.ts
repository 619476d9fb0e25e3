import path from 'node:path'
import { Option, type Command } from 'commander'
import {
  configReportJson,
  findProjectConfigFile,
  formatConfigReport,
  loadConfig,
  projectConfigPath,
  userConfigPath,
  writeConfigTemplate,
} from '../../config/index.js'
import { SafeCoderError } from '../../shared/errors.js'
import { println, type CliContext } from '../context.js'
import { pathOption, printConfigWarnings } from '../options.js'
import type { RegisterCommand } from './index.js'

interface ConfigOptions {
  config?: string
}

/** `safe-coder config show|init`: see the merged configuration, or start a config file. */
export const registerConfig: RegisterCommand = (program, ctx) => {
  const config = program
    .command('config')
    .description('Show the merged configuration, or write a commented config file.')
    .option('--config <file>', 'read this config file instead of searching the project')

  config
    .command('show')
    .description('Print every key with its value and where the value came from.')
    .option('--json', 'print { config, origins, files } as JSON')
    .option('-p, --path <dir>', "show this project's configuration (default: the current one)")
    .addOption(new Option('--project <dir>').hideHelp())
    .action(
      async (options: { json?: boolean; path?: string; project?: string }, command: Command) => {
        const project = pathOption(options)
        const { config: configFile } = command.optsWithGlobals<ConfigOptions>()
        const loaded = await loadConfig({
          cwd: ctx.cwd,
          env: ctx.env,
          configFile,
          ...(project === undefined ? {} : { projectDir: path.resolve(ctx.cwd, project) }),
        })
        printConfigWarnings(ctx, loaded)
        if (options.json === true)
          println(ctx.stdout, JSON.stringify(configReportJson(loaded), null, 2))
        else ctx.stdout.write(formatConfigReport(loaded))
      },
    )

  config
    .command('init')
    .description('Write the commented template to ./.safecoderrc.toml, or the user file.')
    .option('--user', 'write the user-wide file ($XDG_CONFIG_HOME/safe-coder/config.toml)')
    .option('--force', 'overwrite the file if it exists')
    .action(async (options: { user?: boolean; force?: boolean }, command: Command) => {
      if (command.optsWithGlobals<ConfigOptions>().config !== undefined)
        throw new SafeCoderError('USAGE', '`config init` does not take --config.', {
          hint: 'It writes ./.safecoderrc.toml, or the user file with --user.',
        })
      const user = options.user === true
      const file = user ? userConfigPath(ctx.env) : projectConfigPath(ctx.cwd)
      if (!(await writeConfigTemplate(file, options.force === true)))
        throw new SafeCoderError('USAGE', `Not overwriting ${file}: it already exists.`, {
          hint: 'Pass --force to replace it with the template.',
          data: { file },
        })
      println(ctx.stdout, `Wrote ${file}`)
      if (!user) await warnIfNotRead(file, ctx)
    })
}

// Another config file in the same directory, or writing into the home directory, would leave
// the new file silently unread.
async function warnIfNotRead(file: string, ctx: CliContext): Promise<void> {
  // Another file that cannot be read at all is reported when the configuration is loaded.
  const read = await findProjectConfigFile(ctx.cwd, ctx.env).catch(() => file)
  if (read === file) return
  const why =
    read === undefined
      ? 'project files are not searched for in the home directory; use `config init --user` for settings that apply everywhere'
      : `${read} is found first and is read instead; move its settings over and remove it`
  println(ctx.stderr, `safe-coder: note: ${file} will not be read: ${why}.`)
}
