import { randomBytes } from 'node:crypto'
import { lstat, mkdir, open, readdir, rename, rm, rmdir, symlink, unlink } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import type { GitFileMode } from '../shared/manifest.js'
import { writeSparse } from '../shared/sparse-write.js'
import { hasGitSegment, isUnsafeName } from '../workspace/path-rules.js'

/** One file to put into the mirror (`null` removes it). */
export interface MirrorWrite {
  path: string
  /** `chunks`: a large blob, streamed from the history when it is written (never held whole). */
  content:
    | { mode: GitFileMode; bytes: Uint8Array }
    | { mode: GitFileMode; chunks: () => Promise<Iterable<Uint8Array> | AsyncIterable<Uint8Array>> }
    | null
}

/**
 * Refuses, before anything is written, every path that could leave the mirror: unsafe names,
 * `.git`, and any parent that is a symlink or a file the revert does not delete.
 */
export async function checkMirrorWrites(
  workDir: string,
  writes: readonly MirrorWrite[],
): Promise<void> {
  const deleted = new Set(writes.filter((w) => w.content === null).map((w) => w.path))
  for (const write of writes) {
    assertSafeName(write.path)
    await walkParents(workDir, write.path, deleted, false)
    if (write.content === null) continue
    const stats = await lstatOrUndefined(path.join(workDir, write.path))
    if (stats?.isDirectory() === true) {
      // A commit that made the file a directory is reverted by emptying it first.
      const kept = await keptEntries(workDir, write.path, deleted)
      if (kept.length > 0) {
        const shown =
          kept.slice(0, 5).join(', ') + (kept.length > 5 ? ` and ${kept.length - 5} more` : '')
        throw refused(
          write.path,
          `the directory there still holds ${shown}, which the revert keeps`,
        )
      }
    }
  }
}

/** What lies under `dir` (lstat only) that the revert does not delete; empty folders do not count. */
async function keptEntries(
  workDir: string,
  dir: string,
  deleted: ReadonlySet<string>,
): Promise<string[]> {
  const kept: string[] = []
  for (const entry of await readdir(path.join(workDir, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`
    if (entry.isDirectory()) kept.push(...(await keptEntries(workDir, rel, deleted)))
    else if (!deleted.has(rel)) kept.push(rel)
  }
  return kept
}

// Deletions first (they may clear a file that stood where a directory must go), then writes.
export async function applyMirrorWrites(
  workDir: string,
  writes: readonly MirrorWrite[],
): Promise<void> {
  const deleted = new Set(writes.filter((w) => w.content === null).map((w) => w.path))
  for (const write of writes) {
    if (write.content !== null) continue
    await walkParents(workDir, write.path, deleted, false)
    await unlink(path.join(workDir, write.path)).catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT') throw error
    })
    await pruneEmptyParents(workDir, write.path)
  }
  for (const write of writes) {
    if (write.content === null) continue
    await walkParents(workDir, write.path, new Set(), true)
    await removeEmptyTree(path.join(workDir, write.path))
    await replaceFile(path.join(workDir, write.path), write.content)
  }
}

/** A directory left where a file goes (emptied by the deletions): removed, if it holds nothing. */
async function removeEmptyTree(dir: string): Promise<void> {
  if ((await lstatOrUndefined(dir))?.isDirectory() !== true) return
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeEmptyTree(path.join(dir, entry.name))
  }
  await rmdir(dir)
}

function assertSafeName(rel: string): void {
  if (isUnsafeName(rel)) throw refused(rel, 'the path could leave the session mirror')
  if (hasGitSegment(rel)) throw refused(rel, 'Safe Coder never writes into a .git directory')
}

async function walkParents(
  workDir: string,
  rel: string,
  deleted: ReadonlySet<string>,
  create: boolean,
): Promise<void> {
  const segments = rel.split('/').slice(0, -1)
  for (let i = 1; i <= segments.length; i++) {
    const parent = segments.slice(0, i).join('/')
    const full = path.join(workDir, parent)
    let stats = await lstatOrUndefined(full)
    if (stats === undefined) {
      if (!create) return
      await mkdir(full, { mode: 0o755 }).catch((error: unknown) => {
        if (errnoOf(error) !== 'EEXIST') throw error
      })
      stats = await lstat(full)
    }
    if (stats.isSymbolicLink()) throw refused(rel, `${parent} is a symlink in the session mirror`)
    if (stats.isDirectory()) continue
    if (!create && deleted.has(parent)) return
    throw refused(rel, `${parent} is not a directory in the session mirror`)
  }
}

async function replaceFile(
  target: string,
  content: Exclude<MirrorWrite['content'], null>,
): Promise<void> {
  const temp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${randomBytes(6).toString('hex')}.safe-coder.tmp`,
  )
  try {
    if ('bytes' in content && content.mode === 0o120000) {
      await symlink(Buffer.from(content.bytes), temp)
    } else {
      const mode = content.mode === 0o100755 ? 0o755 : 0o644
      const handle = await open(temp, 'wx', mode)
      try {
        if ('bytes' in content) await handle.writeFile(content.bytes)
        else await writeSparse(handle, await content.chunks())
        await handle.chmod(mode)
        await handle.sync()
      } finally {
        await handle.close()
      }
    }
    await rename(temp, target)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}

async function pruneEmptyParents(workDir: string, rel: string): Promise<void> {
  const segments = rel.split('/').slice(0, -1)
  for (let i = segments.length; i > 0; i--) {
    try {
      await rmdir(path.join(workDir, ...segments.slice(0, i)))
    } catch {
      return
    }
  }
}

async function lstatOrUndefined(file: string) {
  try {
    return await lstat(file)
  } catch (error) {
    // Below a file the revert deletes first (a directory that became a file): nothing there yet.
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined
    throw error
  }
}

function refused(rel: string, why: string): SafeCoderError {
  return new SafeCoderError('PATH_REJECTED', `Refusing to write ${JSON.stringify(rel)}: ${why}.`, {
    hint: 'Remove the offending entry from the session mirror and retry the revert.',
    data: { path: rel },
  })
}
