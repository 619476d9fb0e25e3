import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import { onTestFinished } from 'vitest'

/** Files to write (content) or delete (null), relative to the work dir. */
export type FileEdits = Record<string, string | Buffer | null>

/**
 * A bare audit repository with its work dir, filled with the git CLI (the reference the read
 * side is compared with). `git()` keeps stdout's final newline only when asked, for byte
 * comparisons of diff output.
 */
export async function createCliRepo(prefix: string, options: { keepFinalNewline?: boolean } = {}) {
  const root = await mkdtemp(path.join(os.tmpdir(), prefix))
  onTestFinished(() => rm(root, { recursive: true, force: true }))
  const gitdir = path.join(root, 'audit.git')
  const workDir = path.join(root, 'work')
  await mkdir(workDir)
  const git = async (...args: string[]): Promise<string> => {
    const { stdout } = await execa(
      'git',
      [`--git-dir=${gitdir}`, `--work-tree=${workDir}`, ...args],
      {
        env: {
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_AUTHOR_NAME: 'test',
          GIT_AUTHOR_EMAIL: 'test@example.invalid',
          GIT_COMMITTER_NAME: 'test',
          GIT_COMMITTER_EMAIL: 'test@example.invalid',
        },
        stripFinalNewline: options.keepFinalNewline !== true,
      },
    )
    return stdout
  }
  await execa('git', ['init', '-q', '--bare', '-b', 'main', gitdir])
  const write = async (files: FileEdits): Promise<void> => {
    for (const [rel, content] of Object.entries(files)) {
      const file = path.join(workDir, rel)
      if (content === null) await rm(file, { force: true })
      else {
        await mkdir(path.dirname(file), { recursive: true })
        await writeFile(file, content)
      }
    }
  }
  const commit = async (message: string, files: FileEdits = {}): Promise<string> => {
    await write(files)
    await git('add', '-A')
    await git('commit', '-q', '--allow-empty', '-m', message)
    return (await git('rev-parse', 'HEAD')).trim()
  }
  return { root, gitdir, workDir, git, write, commit }
}
