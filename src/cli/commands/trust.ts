import path from 'node:path'
import {
  listTrustedProjects,
  loadConfig,
  revokeProjectTrust,
  trustProject,
} from '../../config/index.js'
import { SafeCoderError } from '../../shared/errors.js'
import { println, type CliContext } from '../context.js'
import { printConfigWarnings } from '../options.js'
import type { RegisterCommand } from './index.js'

interface TrustOptions {
  list?: boolean
  revoke?: boolean
}

/**
 * `safe-coder trust [PATH]`: let a project's own config file widen what the user allows (and
 * run, if it is JavaScript), for its current contents only; `--list` and `--revoke` manage the
 * records. Without it a project file may only narrow (docs/config.md).
 */
export const registerTrust: RegisterCommand = (program, ctx) => {
  program
    .command('trust')
    .description(
      "trust a project's config file: its current contents may widen your settings (see docs/config.md)",
    )
    .argument('[path]', 'the project directory', '.')
    .option('--list', 'list the trusted config files and whether they changed since')
    .option('--revoke', 'forget the trust of the project at PATH')
    .action(async (target: string, options: TrustOptions) => {
      if (options.list === true && options.revoke === true)
        throw new SafeCoderError('USAGE', '--list and --revoke do not go together.', {
          hint: 'List first, then revoke one project: safe-coder trust --revoke PATH',
        })
      const dir = path.resolve(ctx.cwd, target)
      if (options.list === true) await list(ctx)
      else if (options.revoke === true) await revoke(ctx, dir)
      else await trust(ctx, dir)
    })
}

async function trust(ctx: CliContext, dir: string): Promise<void> {
  const { record, script, risks } = await trustProject(dir, ctx.env)
  println(
    ctx.stdout,
    `Trusted ${record.file} (sha256 ${record.digest.slice(0, 16)}…) for the project ${record.directory}.`,
  )
  println(
    ctx.stdout,
    `Its settings now apply even where they widen yours; after any change to it, run \`safe-coder trust ${record.directory}\` again.`,
  )
  if (script)
    println(
      ctx.stdout,
      'It is JavaScript: Safe Coder will run its code on this machine each time it loads this project.',
    )
  if (risks.length > 0)
    println(ctx.stdout, `Note: ${risks.join(' and ')}; its contents are checked on every load.`)
  // Show what the trust lets it do now (a script is not run here: that waits for a real load).
  if (!script) printConfigWarnings(ctx, await loadConfig({ cwd: dir, env: ctx.env }))
}

async function list(ctx: CliContext): Promise<void> {
  const records = await listTrustedProjects(ctx.env)
  if (records.length === 0) {
    println(ctx.stdout, 'No project config file is trusted.')
    return
  }
  const states = {
    unchanged: 'unchanged',
    changed: 'CHANGED since (not trusted until `safe-coder trust` again)',
    missing: 'missing',
    unreadable: 'unreadable',
  }
  for (const r of records)
    println(ctx.stdout, `${r.file}  trusted ${r.trustedAt.slice(0, 19)}Z, ${states[r.state]}`)
}

async function revoke(ctx: CliContext, dir: string): Promise<void> {
  const removed = await revokeProjectTrust(dir, ctx.env)
  if (removed.length === 0) println(ctx.stdout, `Nothing to revoke: ${dir} is not trusted.`)
  for (const r of removed) println(ctx.stdout, `No longer trusted: ${r.file}`)
}
