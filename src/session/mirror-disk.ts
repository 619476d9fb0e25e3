import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import {
  DOCKER_DISK_KEY,
  attachWorkspaceDisk,
  createWorkspaceDisk,
  detachWorkspaceDisk,
  type SandboxBackend,
} from '../sandbox/index.js'
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
): Promise<void> {
  const plan = await backend.workspaceDisk?.()
  if (plan === undefined) return
  const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
  await createWorkspaceDisk({ image: paths.disk, mountPoint: paths.work }, plan, owner, signal)
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
