import { constants, type Stats } from 'node:fs'
import { chmod, copyFile, lstat, readlink, symlink } from 'node:fs/promises'
import path from 'node:path'
import { copyFailed, displayPath, hintFor, skipReasonOf, writeHint } from './copy-errors.js'
import { parentOf, type CopyContext } from './copy-context.js'
import type { SkippedPath } from './copy-in.js'
import { copySparse, isSparse } from './copy-sparse.js'

/**
 * Exclusive (never overwrite, never write through a link) and reflinked where supported; files
 * with holes are copied by {@link copySparse} instead, which keeps them.
 */
const copyMode = constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE

/**
 * Copies one project path into the mirror, deciding what it is with lstat only: a regular file is
 * copied with its permission bits (setuid, setgid and sticky stripped), a symlink is recreated
 * with the same target and never followed, anything else is skipped and reported. Returns
 * 'directory' when the path is a real directory, for the caller to walk.
 */
export async function copyPath(ctx: CopyContext, rel: string): Promise<'directory' | undefined> {
  const stats = await inspect(ctx, rel)
  if (stats?.isDirectory() === true) {
    ctx.progress.handled(0)
    return 'directory'
  }
  let bytes = 0
  if (stats?.isFile() === true) bytes = await copyRegularFile(ctx, rel, stats)
  else if (stats?.isSymbolicLink() === true) await copySymlink(ctx, rel)
  else if (stats !== undefined) ctx.skip(rel, specialReason(stats))
  ctx.progress.handled(bytes)
  return undefined
}

async function inspect(ctx: CopyContext, rel: string): Promise<Stats | undefined> {
  const parentProblem = await ctx.sourceDirProblem(parentOf(rel))
  if (parentProblem !== undefined) {
    ctx.skip(rel, parentProblem)
    return undefined
  }
  try {
    return await lstat(path.join(ctx.projectDir, rel))
  } catch (error) {
    skipOrThrow(ctx, rel, error)
    return undefined
  }
}

async function copyRegularFile(ctx: CopyContext, rel: string, stats: Stats): Promise<number> {
  if (stats.size > ctx.maxFileBytes) {
    ctx.skip(rel, 'too-large')
    return 0
  }
  await ctx.makeMirrorDir(parentOf(rel))
  const target = path.join(ctx.mirrorDir, rel)
  const sparse = isSparse(stats)
  try {
    if (!sparse) await copyFile(path.join(ctx.projectDir, rel), target, copyMode)
    else if (!(await copySparse(path.join(ctx.projectDir, rel), target, stats))) {
      ctx.skip(rel, 'vanished')
      return 0
    }
  } catch (error) {
    skipOrThrow(ctx, rel, error, 'copy')
    return 0
  }
  // copyFile carries the whole mode over and a sparse copy starts private: only the plain
  // permission bits may reach the sandbox.
  if (sparse || (stats.mode & 0o7000) !== 0) {
    try {
      await chmod(target, stats.mode & 0o777)
    } catch (error) {
      throw copyFailed(`cannot set the mode of ${displayPath(rel)}`, error, writeHint, {
        path: rel,
      })
    }
  }
  ctx.tally.files++
  ctx.tally.bytes += stats.size
  return stats.size
}

async function copySymlink(ctx: CopyContext, rel: string): Promise<void> {
  let linkTarget: string
  try {
    linkTarget = await readlink(path.join(ctx.projectDir, rel))
  } catch (error) {
    skipOrThrow(ctx, rel, error)
    return
  }
  await ctx.makeMirrorDir(parentOf(rel))
  try {
    await symlink(linkTarget, path.join(ctx.mirrorDir, rel))
  } catch (error) {
    throw copyFailed(`cannot create symlink ${displayPath(rel)} in the mirror`, error, writeHint, {
      path: rel,
    })
  }
  ctx.tally.symlinks++
}

function specialReason(stats: Stats): SkippedPath['reason'] {
  if (stats.isFIFO()) return 'fifo'
  if (stats.isSocket()) return 'socket'
  return 'device'
}

function skipOrThrow(
  ctx: CopyContext,
  rel: string,
  error: unknown,
  verb: 'read' | 'copy' = 'read',
): void {
  const reason = skipReasonOf(error)
  if (reason === undefined) {
    throw copyFailed(`cannot ${verb} ${displayPath(rel)}`, error, hintFor(error), { path: rel })
  }
  ctx.skip(rel, reason)
}
