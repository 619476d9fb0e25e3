import { chmod, lstat, rm } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../../shared/errors.js'
import { isUnsafeName } from '../../workspace/path-rules.js'
import {
  makeDir,
  makeParents,
  removeEntry,
  replaceWithSymlink,
} from '../../workspace/sync-write.js'
import type {
  ChangeSet,
  FileReceiver,
  PulledFile,
  WorkspaceChange,
} from '../agent-channel/types.js'
import { dropFile, receiveIntoMirror, standInForTooLarge } from './mirror-file.js'

/** Fetches the named files from the sandbox, one at a time, into the receivers opened for them. */
export type PullFiles = (
  paths: string[],
  receive: (file: PulledFile) => Promise<FileReceiver>,
) => Promise<{ pulled: number; missing: string[] }>

export interface MirrorApplyResult {
  /** Mirror-relative paths that changed (deleted ones included), for the commit. */
  changed: string[]
  /** Paths not applied, with why (unsafe names, a parent that is not a real directory). */
  refused: { path: string; reason: string }[]
}

const TEMP_NAME = '.safe-coder-pull.tmp'

/**
 * Makes the host mirror match what the guest reported. The guest is hostile: every name is
 * checked, nothing is written through a symlink (each parent must be a real directory), special
 * files never come across, and permissions lose setuid/setgid/sticky.
 */
export async function applyToMirror(
  mirrorDir: string,
  set: ChangeSet,
  pull: PullFiles,
): Promise<MirrorApplyResult> {
  const changed: string[] = []
  const refused: MirrorApplyResult['refused'] = []
  const safe = set.changes.filter((change) => {
    if (!isUnsafeName(change.path) && !change.path.split('/').includes(TEMP_NAME)) return true
    refused.push({ path: change.path, reason: 'unsafe name' })
    return false
  })
  const of = <K extends WorkspaceChange['kind']>(kind: K) =>
    safe.filter((c): c is Extract<WorkspaceChange, { kind: K }> => c.kind === kind)
  const attempt = async (rel: string, action: () => Promise<void>): Promise<void> => {
    try {
      await action()
      changed.push(rel)
    } catch (error) {
      refused.push({ path: rel, reason: describe(error) })
    }
  }

  // Deepest first, so a directory's children go before it does.
  for (const change of of('deleted').sort((a, b) => depth(b.path) - depth(a.path))) {
    await attempt(change.path, () => removeFromMirror(mirrorDir, change.path))
  }
  for (const change of of('dir').sort((a, b) => depth(a.path) - depth(b.path))) {
    await attempt(change.path, async () => {
      const target = await safeTarget(mirrorDir, change.path)
      await clearNonDirectory(target)
      await makeDir(target)
      await chmod(target, (change.mode & 0o777) | 0o700)
    })
  }
  for (const change of of('symlink')) {
    await attempt(change.path, async () => {
      const target = await safeTarget(mirrorDir, change.path)
      await clearDirectory(target)
      await replaceWithSymlink(target, tempFor(target), Buffer.from(change.target))
    })
  }
  // Over the cap: a sparse stand-in of its size, recorded as too large (as a container's is).
  for (const change of of('too-large')) {
    await attempt(change.path, async () => {
      const target = await safeTarget(mirrorDir, change.path)
      await clearDirectory(target)
      await standInForTooLarge(target, tempFor(target), change.size, change.mode)
    })
  }
  const files = new Map(of('file').map((c) => [c.path, c]))
  if (files.size > 0) {
    const { missing } = await pull([...files.keys()], async (file) => {
      try {
        const target = await safeTarget(mirrorDir, file.path)
        await clearDirectory(target)
        const receiver = await receiveIntoMirror(target, tempFor(target), file.mode)
        return { ...receiver, commit: () => attempt(file.path, () => receiver.commit()) }
      } catch (error) {
        refused.push({ path: file.path, reason: describe(error) })
        return dropFile
      }
    })
    // Gone again before it could be pulled: the mirror follows the guest.
    for (const rel of missing) {
      await attempt(rel, () => removeFromMirror(mirrorDir, rel))
    }
  }
  return { changed: [...new Set(changed)].sort(), refused }
}

function depth(rel: string): number {
  return rel.split('/').length
}

function tempFor(target: string): string {
  return path.join(path.dirname(target), TEMP_NAME)
}

/** The mirror path of `rel`, its parents created as real directories (never through a link). */
async function safeTarget(mirrorDir: string, rel: string): Promise<string> {
  await makeParents(mirrorDir, rel)
  return path.join(mirrorDir, ...rel.split('/'))
}

async function removeFromMirror(mirrorDir: string, rel: string): Promise<void> {
  const segments = rel.split('/')
  // A parent that is not a real directory means the path is not in the mirror as named.
  for (let i = 1; i < segments.length; i++) {
    const parent = path.join(mirrorDir, ...segments.slice(0, i))
    const info = await lstat(parent).catch(() => undefined)
    if (info?.isDirectory() !== true) return
  }
  const target = path.join(mirrorDir, ...segments)
  const info = await lstat(target).catch(() => undefined)
  if (info === undefined) return
  if (info.isDirectory()) await rm(target, { recursive: true, force: true })
  else await removeEntry(target)
}

/** A directory where a file or link is to go (the guest replaced one with the other). */
async function clearDirectory(target: string): Promise<void> {
  const info = await lstat(target).catch(() => undefined)
  if (info?.isDirectory() === true) await rm(target, { recursive: true, force: true })
}

async function clearNonDirectory(target: string): Promise<void> {
  const info = await lstat(target).catch(() => undefined)
  if (info !== undefined && !info.isDirectory()) await removeEntry(target)
}

function describe(error: unknown): string {
  const errno = errnoOf(error)
  if (errno === 'EEXIST' || errno === 'ENOTDIR') return 'a parent is not a real directory'
  return error instanceof Error ? error.message : String(error)
}
