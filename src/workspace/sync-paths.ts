import { lstat } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import { parentOf } from './copy-context.js'
import { syncFailed } from './sync-errors.js'
import { hasGitSegment, isUnsafeName } from './path-rules.js'

/**
 * Matches `--only`, `--exclude` and `--force` arguments: each is a path prefix on whole segments
 * (`src` matches `src` and `src/a.ts`, not `srcx`); `./` in front and `/` behind are ignored,
 * and `.` matches everything. No globs.
 */
export function createPrefixMatcher(
  prefixes: readonly string[] | undefined,
): (rel: string) => boolean {
  const cleaned = (prefixes ?? []).map((prefix) =>
    prefix.replace(/^(\.\/)+/, '').replace(/\/+$/, ''),
  )
  return (rel) =>
    cleaned.some(
      (prefix) => prefix === '' || prefix === '.' || rel === prefix || rel.startsWith(`${prefix}/`),
    )
}

/** Why a session path may never be written, whatever the host holds; undefined when it may. */
export function nameProblem(rel: string): string | undefined {
  if (isUnsafeName(rel)) return 'the path could leave the project (absolute, "..", empty or NUL)'
  if (hasGitSegment(rel)) return 'it lies inside a .git directory, which sync-back never writes'
  return undefined
}

/**
 * Why a symlink with this target could point outside the project: absolute, NUL, or a `..`
 * that climbs above the root. Components that are links themselves are checked by the caller.
 */
export function symlinkTargetProblem(rel: string, target: string): string | undefined {
  if (target === '' || target.includes('\0')) return 'its target is empty or holds NUL'
  if (target.startsWith('/')) return `its target ${target} is absolute`
  let depth = parentOf(rel) === '' ? 0 : parentOf(rel).split('/').length
  for (const segment of target.split('/')) {
    if (segment === '..') depth--
    else if (segment !== '' && segment !== '.') depth++
    if (depth < 0) return `its target ${target} leaves the project`
  }
  return undefined
}

/** The project paths the kernel passes through to resolve `target` from the link at `rel`. */
export function symlinkTargetSteps(rel: string, target: string): string[] {
  const steps: string[] = []
  const parts = parentOf(rel) === '' ? [] : parentOf(rel).split('/')
  for (const segment of target.split('/')) {
    if (segment === '..') parts.pop()
    else if (segment !== '' && segment !== '.') {
      parts.push(segment)
      steps.push(parts.join('/'))
    }
  }
  return steps
}

export type DirState = 'dir' | 'missing' | { problem: string }

/**
 * lstat-s each ancestor directory of project paths once: an ancestor that is a symlink or not a
 * directory is a problem (writing below it would land elsewhere); a missing one will be created.
 */
export interface ParentChecker {
  /** Why nothing may be written at `rel`, or undefined. */
  problem(rel: string): Promise<string | undefined>
  /** The ancestors of `rel` that do not exist yet, shallowest first. */
  missing(rel: string): Promise<string[]>
}

// A fresh checker per phase: plan and apply must each see the tree as it is then.
// `replaced`: host paths the sync deletes first (a link the session made a directory); below
// them the directory is created anew, so they count as missing rather than as links.
export function createParentChecker(
  projectDir: string,
  replaced: ReadonlySet<string> = new Set(),
): ParentChecker {
  const known = new Map<string, Promise<DirState>>()
  const stateOf = (dir: string): Promise<DirState> => {
    if (dir === '') return Promise.resolve('dir')
    if (replaced.has(dir)) return Promise.resolve('missing')
    let state = known.get(dir)
    if (state === undefined) {
      state = inspectDir(dir)
      known.set(dir, state)
    }
    return state
  }
  const inspectDir = async (dir: string): Promise<DirState> => {
    const parent = await stateOf(parentOf(dir))
    if (parent !== 'dir') return parent
    try {
      const stats = await lstat(path.join(projectDir, dir))
      if (stats.isSymbolicLink()) return { problem: `its parent ${dir} is a symlink on the host` }
      if (!stats.isDirectory())
        return { problem: `its parent ${dir} is not a directory on the host` }
      return 'dir'
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return 'missing'
      throw syncFailed(`cannot inspect ${dir}`, error, { path: dir })
    }
  }
  return {
    async problem(rel) {
      const state = await stateOf(parentOf(rel))
      return typeof state === 'object' ? state.problem : undefined
    },
    async missing(rel) {
      const dirs: string[] = []
      for (let dir = parentOf(rel); dir !== ''; dir = parentOf(dir)) {
        if ((await stateOf(dir)) === 'missing') dirs.unshift(dir)
      }
      return dirs
    },
  }
}

/** Whether `rel` lies below one of `dirs` (not at it). */
export function underAny(rel: string, dirs: ReadonlySet<string>): boolean {
  for (let slash = rel.lastIndexOf('/'); slash > 0; slash = rel.lastIndexOf('/', slash - 1))
    if (dirs.has(rel.slice(0, slash))) return true
  return false
}
