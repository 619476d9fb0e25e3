import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
// The disk helpers and the key name only, not the engines behind sandbox/index.ts: reading a
// session's history must not load an engine client.
import {
  attachWorkspaceDisk,
  createWorkspaceDisk,
  detachWorkspaceDisk,
} from '../sandbox/disk/index.js'
import { DOCKER_DISK_KEY } from '../sandbox/docker/options.js'
import type { SandboxBackend } from '../sandbox/types.js'
import { SafeCoderError, errnoOf, isSafeCoderError } from '../shared/errors.js'
import type { SessionPaths } from './paths.js'

type DiskPaths = Pick<SessionPaths, 'work' | 'disk'>

/**
 * A new session's mirror goes on a fixed-size disk when its backend's sandboxes write the mirror
 * directly and this process can mount one (docs/sandboxing.md#disk-limits): made and mounted
 * before copy-in, so the project is copied into it once.
 */
export async function makeMirrorDisk(
  paths: DiskPaths,
  backend: SandboxBackend,
  signal?: AbortSignal,
): Promise<{ sizeMib: number; key: string } | undefined> {
  const plan = await backend.workspaceDisk?.()
  if (plan === undefined) return undefined
  const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
  await createWorkspaceDisk({ image: paths.disk, mountPoint: paths.work }, plan, owner, signal)
  return plan
}

/** Copy-in that ran out of room on the session's disk: the project is larger than the key allows. */
export function projectTooLarge(
  error: unknown,
  plan: { sizeMib: number; key: string } | undefined,
): unknown {
  if (plan === undefined || !isSafeCoderError(error)) return error
  const errno = errnoOf(error.cause)
  if (errno !== 'ENOSPC' && errno !== 'EDQUOT') return error
  return new SafeCoderError(
    'DISK_FULL',
    `The project does not fit in the session's ${plan.sizeMib} MiB disk (${plan.key}): ${error.message}`,
    {
      hint: `Raise ${plan.key}, or leave large files out with [workspace] exclude.`,
      cause: error,
      data: { key: plan.key, sizeMib: plan.sizeMib },
    },
  )
}

/**
 * Makes a session's mirror readable: when it lives on a disk that is not mounted (after a
 * reboot), mounts it. `checkRoom` before a command: the host must still have room for the disk
 * to fill, else DISK_FULL before the sandbox starts.
 */
export async function openMirror(
  paths: DiskPaths,
  options: { checkRoom?: boolean } = {},
): Promise<void> {
  if (!existsSync(paths.disk)) return
  await attachWorkspaceDisk({ image: paths.disk, mountPoint: paths.work }, DOCKER_DISK_KEY, options)
}

/** Unmounts a session's disk (if it has one) and deletes the session folder. */
export async function removeSessionDir(paths: DiskPaths & { dir: string }): Promise<void> {
  await detachWorkspaceDisk(paths.work)
  await rm(paths.dir, { recursive: true, force: true })
}
