import type { Dirent } from 'node:fs'
import { lstat, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { copyFailed, displayPath, readHint, skipReasonOf } from './copy-errors.js'
import type { CopyContext } from './copy-context.js'
import { copyPath } from './copy-entry.js'

/**
 * Walks one directory of a project git cannot list (no repository, or git not installed), or a
 * nested repository inside one it can: reads the directory's .gitignore first, then schedules
 * each child that the rules keep. Directory entries come from readdir's lstat-like types, so a
 * symlinked directory is copied as a link and never descended into.
 */
export async function walkDir(ctx: CopyContext, rel: string): Promise<void> {
  const entries = await listDir(ctx, rel)
  if (entries === undefined) return
  if (entries.some((entry) => entry.name === '.gitignore' && entry.isFile())) {
    const content = await readGitignore(ctx.projectDir, rel)
    if (content !== undefined) ctx.rules.addGitignore(rel, content)
  }
  let found = 0
  for (const entry of entries) {
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`
    const isDir = entry.isDirectory()
    if (ctx.rules.skips(child, isDir)) continue
    if (isDir) {
      ctx.pool.add(() => walkDir(ctx, child))
    } else {
      found++
      ctx.pool.add(async () => {
        await copyPath(ctx, child)
      })
    }
  }
  ctx.progress.found(found)
}

async function listDir(ctx: CopyContext, rel: string): Promise<Dirent[] | undefined> {
  try {
    return await readdir(path.join(ctx.projectDir, rel), { withFileTypes: true })
  } catch (error) {
    const reason = skipReasonOf(error)
    if (reason === undefined || rel === '') {
      const what = rel === '' ? 'the project directory' : displayPath(rel)
      throw copyFailed(`cannot list ${what}`, error, readHint, { path: rel })
    }
    ctx.skip(rel, reason)
    return undefined
  }
}

/** The text of `<dir>/.gitignore` when it is a regular file (git ignores symlinked ones). */
export async function readGitignore(projectDir: string, dir: string): Promise<string | undefined> {
  const file = path.join(projectDir, dir, '.gitignore')
  try {
    if (!(await lstat(file)).isFile()) return undefined
    return await readFile(file, 'utf8')
  } catch (error) {
    if (skipReasonOf(error) !== undefined) return undefined
    throw copyFailed(
      `cannot read ${displayPath(path.posix.join(dir, '.gitignore'))}`,
      error,
      readHint,
    )
  }
}
