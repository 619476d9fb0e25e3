import { existsSync } from 'node:fs'
import { mkdir, realpath, rmdir, stat } from 'node:fs/promises'
import { SafeCoderError, isSafeCoderError } from '../../shared/errors.js'
import { findTool, requireTool, runTool } from '../microvm/image/tools.js'
import { MIB, makeExt4 } from './ext4.js'
import { loopBackingFile, mountAt } from './mounts.js'
import { assertRoomFor } from './room.js'

/**
 * A session's workspace disk: a sparse ext4 image file next to the mirror whose file system is
 * mounted (through a loop device) as the mirror itself. The sandbox writes into that file
 * system, so it cannot store more than the image holds: a write beyond it fails with ENOSPC
 * inside, and the host disk never sees more than the image's size. The host reads and commits
 * the mirror exactly as before. Only root can mount, so only root gets one (see docs).
 */
export interface WorkspaceDisk {
  /** The image file, outside the mirror (the sandbox never sees it). */
  image: string
  /** The mirror: where the image's file system is mounted. */
  mountPoint: string
}

/** The size of a new workspace disk, and the config key that sets it (for messages). */
export interface WorkspaceDiskPlan {
  sizeMib: number
  key: string
}

/**
 * Mount options: no setuid or device files from the sandbox take effect on the host; deleting
 * a file inside gives its blocks back to the host (discard punches holes in the image).
 */
const MOUNT_OPTIONS = 'loop,nosuid,nodev,noatime,discard'

/** Whether this process can make workspace disks: root, loop devices and `mount` are there. */
export async function canMountDisks(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false
  if (!existsSync('/dev/loop-control')) return false
  return (await findTool('mount')) !== undefined && (await findTool('mkfs.ext4')) !== undefined
}

/**
 * Makes a new, empty workspace disk and mounts it at `disk.mountPoint` (which must not exist or
 * be an empty directory), its root owned by `owner`.
 */
export async function createWorkspaceDisk(
  disk: WorkspaceDisk,
  plan: WorkspaceDiskPlan,
  owner: { uid: number; gid: number },
  signal?: AbortSignal,
): Promise<void> {
  await makeExt4(disk.image, plan.sizeMib * MIB, {
    label: 'safe-coder-ws',
    rootOwner: owner,
    sizeKey: plan.key,
    ...(signal === undefined ? {} : { signal }),
  }).catch((error: unknown) => {
    throw asSandboxFailure(
      error,
      'Check that e2fsprogs is installed and the state directory is writable.',
    )
  })
  await attachWorkspaceDisk(disk, plan.key)
  // mkfs made it for e2fsck; nothing of the project's, and an empty mirror must be empty.
  await rmdir(`${disk.mountPoint}/lost+found`)
}

/**
 * Mounts the disk at its mirror unless it is mounted there already (by an earlier command, or
 * one that crashed). Before it mounts, and with `checkRoom` (a command is about to write) also
 * when it was mounted, the host must have room for the image to fill up.
 */
export async function attachWorkspaceDisk(
  disk: WorkspaceDisk,
  key: string,
  options: { checkRoom?: boolean } = {},
): Promise<void> {
  await mkdir(disk.mountPoint, { recursive: true, mode: 0o700 })
  const mountPoint = await realpath(disk.mountPoint)
  const image = await realpath(disk.image)
  const ours = async () => {
    const mount = await mountAt(mountPoint)
    return mount === undefined ? undefined : (await loopBackingFile(mount.source)) === image
  }
  const current = await mountAt(mountPoint)
  if (current !== undefined && !(await ours())) {
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot mount the workspace disk ${image}: ${current.source} (${current.fsType}) is mounted at ${mountPoint} instead.`,
      { hint: `Unmount it (umount ${mountPoint}), then try again.`, data: { image, mountPoint } },
    )
  }
  if (current === undefined || options.checkRoom === true)
    await assertRoomFor(image, (await stat(image)).size, key)
  if (current !== undefined) return
  const mount = await requireTool('mount', 'to mount the workspace disk')
  try {
    // A loop device that still holds this image (a lazily unmounted earlier mount) is reused by
    // mount(8), so the image is never open through two devices at once.
    await runTool(mount, ['-t', 'ext4', '-o', MOUNT_OPTIONS, image, mountPoint], {
      what: `mount ${image} at ${mountPoint}`,
    })
  } catch (error) {
    // Another process opening the session at the same moment mounted it first: mount(8) says
    // "already mounted", and the mount is what this call wanted.
    if ((await ours()) === true) return
    throw asSandboxFailure(error, `Run it by hand to see why: mount -o loop ${image} ${mountPoint}`)
  }
}

/**
 * Unmounts the disk at `mountPoint` when one is mounted there: every layer, since two processes
 * that opened the session at once may each have mounted it (the same file system twice). A
 * host process still working in it (a shell whose directory it is) makes it busy: it is then
 * detached lazily and goes when that process lets go; a later attach reuses its loop device.
 */
export async function detachWorkspaceDisk(mountPoint: string): Promise<void> {
  const real = await realpath(mountPoint).catch(() => undefined)
  if (real === undefined) return
  for (let layer = 0; layer < 8 && (await mountAt(real)) !== undefined; layer++) {
    const umount = await requireTool('umount', 'to unmount the workspace disk')
    try {
      await runTool(umount, [real], { what: `umount ${real}` })
    } catch (error) {
      if (!isSafeCoderError(error) || !/busy/i.test(error.message))
        throw asSandboxFailure(error, `Unmount it by hand: umount ${real}`)
      await runTool(umount, ['-l', real], { what: `umount -l ${real}` })
    }
  }
}

function asSandboxFailure(error: unknown, hint: string): unknown {
  if (!isSafeCoderError(error, 'IMAGE_BUILD_FAILED')) return error
  return new SafeCoderError('SANDBOX_FAILED', error.message, {
    hint,
    cause: error,
    data: error.data,
  })
}
