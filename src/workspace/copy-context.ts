import { lstat, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { copyFailed, displayPath, readHint, skipReasonOf, writeHint } from './copy-errors.js'
import type { SkippedPath } from './copy-in.js'
import type { PathRules } from './path-rules.js'
import type { ProgressMeter } from './progress.js'
import type { TaskPool } from './task-pool.js'

/** What one copy has done so far. */
export interface CopyTally {
  files: number
  dirs: number
  symlinks: number
  bytes: number
  skipped: SkippedPath[]
}

/** Everything the copy steps share. Paths handed around are project-relative, `/`-separated. */
export interface CopyContext {
  readonly projectDir: string
  readonly mirrorDir: string
  readonly maxFileBytes: number
  readonly rules: PathRules
  readonly pool: TaskPool
  readonly progress: ProgressMeter
  readonly tally: CopyTally
  /** Why `rel` is not a real directory of the project (each ancestor lstat-ed once), if it is not. */
  sourceDirProblem(rel: string): Promise<SkippedPath['reason'] | undefined>
  /** Creates `rel` and its parents in the mirror, each exactly once. */
  makeMirrorDir(rel: string): Promise<void>
  skip(rel: string, reason: SkippedPath['reason']): void
}

export interface CopyContextOptions {
  projectDir: string
  mirrorDir: string
  maxFileBytes: number
  rules: PathRules
  pool: TaskPool
  progress: ProgressMeter
}

// Caches keep each directory to one lstat and one mkdir however many files it holds.
export function createCopyContext(options: CopyContextOptions): CopyContext {
  const tally: CopyTally = { files: 0, dirs: 0, symlinks: 0, bytes: 0, skipped: [] }
  const sourceDirs = new Map<string, Promise<SkippedPath['reason'] | undefined>>()
  const mirrorDirs = new Map<string, Promise<void>>()

  const sourceDirProblem = (rel: string): Promise<SkippedPath['reason'] | undefined> => {
    if (rel === '') return Promise.resolve(undefined)
    let known = sourceDirs.get(rel)
    if (known === undefined) {
      known = checkSourceDir(rel)
      sourceDirs.set(rel, known)
    }
    return known
  }

  const checkSourceDir = async (rel: string): Promise<SkippedPath['reason'] | undefined> => {
    const parentProblem = await sourceDirProblem(parentOf(rel))
    if (parentProblem !== undefined) return parentProblem
    try {
      const stats = await lstat(path.join(options.projectDir, rel))
      return stats.isDirectory() ? undefined : 'vanished'
    } catch (error) {
      const reason = skipReasonOf(error)
      if (reason !== undefined) return reason
      throw copyFailed(`cannot read directory ${displayPath(rel)}`, error, readHint, { path: rel })
    }
  }

  const makeMirrorDir = (rel: string): Promise<void> => {
    if (rel === '') return Promise.resolve()
    let made = mirrorDirs.get(rel)
    if (made === undefined) {
      made = createMirrorDir(rel)
      mirrorDirs.set(rel, made)
    }
    return made
  }

  const createMirrorDir = async (rel: string): Promise<void> => {
    await makeMirrorDir(parentOf(rel))
    try {
      // Not recursive: an existing entry (never ours) fails with EEXIST instead of being reused.
      await mkdir(path.join(options.mirrorDir, rel))
    } catch (error) {
      throw copyFailed(
        `cannot create directory ${displayPath(rel)} in the mirror`,
        error,
        writeHint,
        {
          path: rel,
        },
      )
    }
    tally.dirs++
  }

  return {
    ...options,
    tally,
    sourceDirProblem,
    makeMirrorDir,
    skip(rel, reason) {
      tally.skipped.push({ path: rel, reason })
    },
  }
}

/** `a/b/c` → `a/b`; top-level names → `` (the root). */
export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/')
  return slash === -1 ? '' : rel.slice(0, slash)
}
