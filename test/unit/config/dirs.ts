import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { onTestFinished } from 'vitest'

/** A throwaway home directory with a git project inside it, and an env that points at them. */
export interface ConfigDirs {
  root: string
  home: string
  project: string
  /** The user config file's path under `home`. */
  userFile: string
  env: NodeJS.ProcessEnv
  /** Writes a file (relative to `root` or absolute), creating its directory. */
  write: (file: string, content: string) => Promise<string>
}

/** Fresh directories for one test, removed when it finishes. */
export async function makeConfigDirs(): Promise<ConfigDirs> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-config-'))
  onTestFinished(() => rm(root, { recursive: true, force: true }))
  const home = path.join(root, 'home')
  const project = path.join(home, 'project')
  await mkdir(path.join(project, '.git'), { recursive: true })
  const write = async (file: string, content: string): Promise<string> => {
    const target = path.resolve(root, file)
    await mkdir(path.dirname(target), { recursive: true })
    await writeFile(target, content)
    return target
  }
  return {
    root,
    home,
    project,
    userFile: path.join(home, '.config', 'safe-coder', 'config.toml'),
    env: { HOME: home },
    write,
  }
}
