import { existsSync } from 'node:fs'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa, type Options, type ResultPromise } from 'execa'
import { tempDir } from './sandbox.js'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const binPath = path.join(repoRoot, 'bin/safe-coder')

/** The built CLI must exist: `npm test` builds it first; a bare `vitest run` may not have. */
export function requireBuiltCli(): void {
  if (!existsSync(path.join(repoRoot, 'dist/cli/entry.js'))) {
    throw new Error(
      'dist/ is missing: run `npm run build` (npm test does it) before the end-to-end tests.',
    )
  }
}

/** An isolated HOME/XDG tree so the developer's own config and state never leak into a test. */
export async function isolatedEnv(
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const home = await tempDir('safe-coder-home-')
  await mkdir(path.join(home, '.config'), { recursive: true })
  // Some tests run the CLI as an unprivileged user; it must be able to look here.
  await chmod(home, 0o755)
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
    ...extra,
  }
}

/** Runs the built `safe-coder` binary as a user would, never rejecting on a non-zero exit. */
export function runBuilt(args: string[], options: Options = {}): ResultPromise {
  requireBuiltCli()
  return execa(process.execPath, [binPath, ...args], {
    reject: false,
    extendEnv: false,
    ...options,
  })
}

/** A small git-less project with a couple of files. */
export async function sampleProject(): Promise<string> {
  const dir = await tempDir('safe-coder-project-')
  await writeFile(path.join(dir, 'hello.txt'), 'hello from the project\n')
  await mkdir(path.join(dir, 'src'))
  await writeFile(path.join(dir, 'src/main.sh'), '#!/bin/sh\necho main\n', { mode: 0o755 })
  return dir
}
