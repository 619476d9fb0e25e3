import { lstat, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import { onTestFinished } from 'vitest'

/** A temporary directory, removed when the test ends. */
export async function tempDir(prefix = 'safe-coder-copy-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A project directory and a mirror path (not yet created) in separate temporary trees. */
export async function projectAndMirror(): Promise<{ project: string; mirror: string }> {
  const project = await tempDir('safe-coder-project-')
  const mirror = path.join(await tempDir('safe-coder-state-'), 'work')
  return { project, mirror }
}

/** Writes files (parents created); keys are `/`-separated paths relative to `root`. */
export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, content)
  }
}

/** Runs git with a fixed identity and no inherited GIT_* variables. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const env: Record<string, string | undefined> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('GIT_')) env[key] = value
  }
  const { stdout } = await execa('git', args, {
    cwd,
    extendEnv: false,
    env: {
      ...env,
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.invalid',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.invalid',
    },
  })
  return stdout
}

/** `git init` plus an initial commit of everything not ignored. */
export async function commitAll(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true })
  await git(dir, 'init', '-q')
  await writeTree(dir, files)
  await git(dir, 'add', '-A')
  await git(dir, 'commit', '-q', '-m', 'initial')
}

/**
 * Every non-directory entry under `root`, sorted: files as their path, symlinks as
 * `path -> target`. Directories show through the paths of what they hold.
 */
export async function listTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of await readdir(path.join(root, rel))) {
    const child = rel === '' ? name : `${rel}/${name}`
    const stats = await lstat(path.join(root, child))
    if (stats.isDirectory()) out.push(...(await listTree(root, child)))
    else if (stats.isSymbolicLink())
      out.push(`${child} -> ${await readlink(path.join(root, child))}`)
    else out.push(child)
  }
  return rel === '' ? out.sort() : out
}
