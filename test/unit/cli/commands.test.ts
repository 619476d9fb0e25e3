import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { Command } from 'commander'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { commandModules, namedCommand } from '../../../src/cli/commands/index.js'
import { binPath, isolatedEnv, repoRoot, requireBuiltCli } from '../../helpers/built-cli.js'
import { tempDir } from '../../helpers/sandbox.js'

const ctx = {
  cwd: repoRoot,
  env: {},
  stdout: new PassThrough(),
  stderr: new PassThrough(),
  signal: new AbortController().signal,
}

describe('the command table', () => {
  it('lists exactly the commands each module registers, with their own summaries', async () => {
    for (const module of commandModules) {
      const program = new Command('safe-coder')
      ;(await module.load())(program, ctx, () => undefined)
      const registered = program.commands.map((c) => [c.name(), c.description()])
      expect(registered).toEqual(module.commands.map(([name, summary]) => [name, summary]))
    }
  })

  it('finds the command argv names, or the one help is asked about', () => {
    const name = (argv: string[]) => namedCommand(argv)?.commands[0]?.[0]
    expect(name(['sessions', '--json'])).toBe('sessions')
    expect(name(['diff', 's-1'])).toBe('log')
    expect(name(['help', 'exec'])).toBe('exec')
    expect(name(['--help'])).toBeUndefined()
    expect(name(['-V'])).toBeUndefined()
    expect(name(['nope'])).toBeUndefined()
    expect(name([])).toBeUndefined()
  })
})

/** The files a whole `safe-coder ARGS` process loads (node: built-ins left out). */
async function loadedBy(args: string[]): Promise<{ files: string[]; stdout: string }> {
  requireBuiltCli()
  const dir = await tempDir('safe-coder-modules-')
  const log = path.join(dir, 'loaded.txt')
  const hook = path.join(dir, 'register.mjs')
  // A resolution hook that appends every URL the process loads to the log.
  await writeFile(
    path.join(dir, 'hook.mjs'),
    [
      "import { appendFileSync } from 'node:fs'",
      'export async function resolve(specifier, context, next) {',
      '  const resolved = await next(specifier, context)',
      `  appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n')`,
      '  return resolved',
      '}',
    ].join('\n'),
  )
  await writeFile(
    hook,
    "import { register } from 'node:module'\nregister('./hook.mjs', import.meta.url)\n",
  )
  const result = await execa(process.execPath, ['--import', hook, binPath, ...args], {
    env: await isolatedEnv(),
    extendEnv: false,
    reject: false,
  })
  expect(result.exitCode, result.stderr).toBe(0)
  const urls = (await readFile(log, 'utf8')).split('\n').filter((u) => u.startsWith('file:'))
  return {
    files: urls.map((u) => path.relative(repoRoot, new URL(u).pathname)),
    stdout: result.stdout,
  }
}

const packageOf = (file: string): string | undefined =>
  /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1]

// Start-up is part of every command a user types: each loads only what it uses (docs/performance.md).
describe('what a command loads', () => {
  it('--version loads nothing but the entry point and the version', async () => {
    const { files, stdout } = await loadedBy(['--version'])
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    expect(files.filter((f) => f.startsWith('dist/')).sort()).toEqual([
      'dist/cli/bounded-output.js',
      'dist/cli/entry.js',
      'dist/shared/version.js',
    ])
    expect(files.filter((f) => packageOf(f) !== undefined)).toEqual([])
  })

  it('help lists every command without loading one', async () => {
    const { files, stdout } = await loadedBy(['--help'])
    for (const module of commandModules)
      for (const [name] of module.commands) expect(stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'))
    expect(files.filter((f) => f.startsWith('dist/cli/commands/'))).toEqual([
      'dist/cli/commands/index.js',
    ])
  })

  it('sessions reads the store without the engine client, git library, config, schema library or model SDKs', async () => {
    const { files } = await loadedBy(['sessions'])
    const packages = new Set(files.map(packageOf).filter((p) => p !== undefined))
    for (const heavy of [
      'dockerode',
      'execa',
      'isomorphic-git',
      'cosmiconfig',
      'zod',
      'ai',
      'blessed',
    ])
      expect(packages).not.toContain(heavy)
    expect(files).toContain('dist/cli/commands/sessions.js')
    expect(files).not.toContain('dist/cli/commands/exec.js')
  })
})
