import { ExecaError, execa } from 'execa'
import { SafeCoderError } from '../shared/errors.js'

/**
 * The project-relative paths git would show in `projectDir`: tracked plus untracked-not-ignored,
 * deduplicated (unmerged entries repeat). A nested repository or submodule comes back as one
 * directory path (with or without a trailing slash). Undefined when `projectDir` is not inside a
 * git work tree or git is not installed, so the caller walks the tree itself.
 */
export async function listGitFiles(
  projectDir: string,
  signal?: AbortSignal,
): Promise<string[] | undefined> {
  try {
    const { stdout } = await runGit(
      projectDir,
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      signal,
    )
    return [...new Set(stdout.split('\0'))].filter((rel) => rel !== '')
  } catch (error) {
    if (signal?.aborted === true) {
      throw new SafeCoderError('ABORTED', 'Copy-in was cancelled.', { cause: signal.reason })
    }
    if (error instanceof ExecaError) {
      if (error.code === 'ENOENT') return undefined
      if (/not a git repository/i.test(stderrOf(error))) return undefined
    }
    const detail = firstLine(stderrOf(error))
    throw new SafeCoderError(
      'COPY_FAILED',
      `Copy-in failed: git could not list the files of ${projectDir}${detail === '' ? '' : ` (${detail})`}.`,
      { hint: 'Run "git status" in the project to see what git objects to.', cause: error },
    )
  }
}

/** Whether git ignores the directory `rel` (project-relative), e.g. a mirror placed inside. */
export async function isDirIgnoredByGit(
  projectDir: string,
  rel: string,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    await runGit(projectDir, ['check-ignore', '-q', '--', `${rel}/`], signal)
    return true
  } catch {
    if (signal?.aborted === true) {
      throw new SafeCoderError('ABORTED', 'Copy-in was cancelled.', { cause: signal.reason })
    }
    return false
  }
}

// Our own environment for git: no GIT_* variable may point it at another repository, and
// messages stay in English so they can be recognised.
function runGit(cwd: string, args: string[], signal: AbortSignal | undefined) {
  const env: Record<string, string | undefined> = { LC_ALL: 'C' }
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('GIT_') && key !== 'LC_ALL') env[key] = value
  }
  return execa('git', ['-c', 'core.fsmonitor=false', ...args], {
    cwd,
    env,
    extendEnv: false,
    stdin: 'ignore',
    maxBuffer: 1024 * 1024 * 1024,
    ...(signal === undefined ? {} : { cancelSignal: signal }),
  })
}

function stderrOf(error: unknown): string {
  const stderr: unknown = error instanceof ExecaError ? error.stderr : undefined
  return typeof stderr === 'string' ? stderr : ''
}

function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? '').replace(/^fatal: /, '')
}
