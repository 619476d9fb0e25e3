import { constants } from 'node:fs'
import { access, mkdir, readdir, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import { copyFailed, writeHint } from './copy-errors.js'
import { isDirIgnoredByGit } from './git-files.js'
import { createPathRules } from './path-rules.js'
import { readGitignore } from './tree-walk.js'

// Everything later compares real paths, so a symlinked project or state dir cannot hide overlap.
export async function resolveProject(projectDir: string): Promise<string> {
  let real: string
  try {
    real = await realpath(path.resolve(projectDir))
    if (!(await stat(real)).isDirectory()) real = ''
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') {
      throw new SafeCoderError(
        'NOT_FOUND',
        `Copy-in failed: project ${projectDir} does not exist.`,
        {
          hint: 'Check the project path, or start Safe Coder from inside the project.',
          cause: error,
          data: { projectDir },
        },
      )
    }
    throw copyFailed(`cannot open project ${projectDir}`, error, "Check the project's permissions.")
  }
  if (real === '') {
    throw new SafeCoderError('COPY_FAILED', `Copy-in failed: ${projectDir} is not a directory.`, {
      hint: 'Point Safe Coder at the project directory, not a file in it.',
      data: { projectDir },
    })
  }
  // The whole file system is not a project (and holds Safe Coder's own state).
  if (real === path.parse(real).root) {
    throw new SafeCoderError(
      'PATH_REJECTED',
      `Copy-in refused: the project path "${projectDir}" is the root directory, the whole file system.`,
      { hint: "Pass the project's own directory with -p, or start Safe Coder from inside it." },
    )
  }
  // Unreadable (as an ordinary user would find it): say so before git or the copy trips on it.
  try {
    await access(real, constants.R_OK | constants.X_OK)
  } catch (error) {
    throw copyFailed(
      `cannot read project ${projectDir} (permission denied)`,
      error,
      'Give your user read and search permission on the project (chmod u+rx), or run Safe Coder as its owner.',
    )
  }
  return real
}

/** The real path `dir` will have: symlinks resolved in the part that exists already. */
export async function resolveFuture(dir: string): Promise<string> {
  const missing: string[] = []
  let existing = path.resolve(dir)
  for (;;) {
    try {
      return path.join(await realpath(existing), ...missing)
    } catch (error) {
      const parent = path.dirname(existing)
      if (errnoOf(error) !== 'ENOENT' || parent === existing) {
        throw copyFailed(`cannot resolve mirror directory ${dir}`, error, writeHint)
      }
      missing.unshift(path.basename(existing))
      existing = parent
    }
  }
}

/**
 * Refuses a mirror that copy-in would copy into itself: the project itself, or a directory
 * inside the project that the selection (git's, or the walk's .gitignore rules, plus excludes)
 * keeps. A mirror in an ignored or excluded directory is fine.
 */
export async function refuseMirrorInProject(options: {
  projectDir: string
  mirrorDir: string
  exclude: readonly string[]
  viaGit: boolean
  signal?: AbortSignal | undefined
}): Promise<void> {
  const { projectDir, mirrorDir } = options
  const rel = path.relative(projectDir, mirrorDir)
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return
  const posixRel = rel.split(path.sep).join('/')
  const copied =
    rel === '' ||
    (options.viaGit
      ? !createPathRules(options.exclude).skips(posixRel, true) &&
        !(await isDirIgnoredByGit(projectDir, posixRel, options.signal))
      : await walkWouldEnter(projectDir, posixRel, options.exclude))
  if (!copied) return
  throw new SafeCoderError(
    'COPY_FAILED',
    rel === ''
      ? `Copy-in failed: the mirror directory ${mirrorDir} is the project itself.`
      : `Copy-in failed: the mirror directory ${mirrorDir} lies inside the project's copied files.`,
    {
      hint: 'Keep session state outside the project, or exclude its directory with [workspace] exclude.',
      data: { projectDir, mirrorDir },
    },
  )
}

async function walkWouldEnter(
  projectDir: string,
  rel: string,
  exclude: readonly string[],
): Promise<boolean> {
  const rules = createPathRules(exclude)
  const segments = rel.split('/')
  for (let depth = 1; depth <= segments.length; depth++) {
    const parent = segments.slice(0, depth - 1).join('/')
    const content = await readGitignore(projectDir, parent)
    if (content !== undefined) rules.addGitignore(parent, content)
    if (rules.skips(segments.slice(0, depth).join('/'), true)) return false
  }
  return true
}

/**
 * Creates the mirror directory (a real path from {@link resolveFuture}) if needed and checks that
 * it is empty and still where the overlap check saw it.
 */
export async function prepareMirror(mirrorDir: string): Promise<string> {
  let real: string
  let entries: string[]
  try {
    await mkdir(mirrorDir, { recursive: true })
    real = await realpath(mirrorDir)
    entries = await readdir(real)
  } catch (error) {
    throw copyFailed(`cannot create mirror directory ${mirrorDir}`, error, writeHint, {
      mirrorDir,
    })
  }
  if (real !== mirrorDir) {
    throw new SafeCoderError(
      'COPY_FAILED',
      `Copy-in failed: mirror directory ${mirrorDir} resolves to ${real} after creation.`,
      {
        hint: 'Something changed the path while the session started; use a directory without symlinks.',
        data: { mirrorDir, real },
      },
    )
  }
  if (entries.length > 0) {
    throw new SafeCoderError(
      'COPY_FAILED',
      `Copy-in failed: mirror directory ${mirrorDir} is not empty (${entries.length} entries).`,
      {
        hint: 'Copy-in never merges into existing files: use a new or empty directory.',
        data: { mirrorDir },
      },
    )
  }
  return mirrorDir
}
