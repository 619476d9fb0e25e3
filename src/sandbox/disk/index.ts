/** Sandbox disks: fixed-size ext4 images that bound what a sandbox can store (docs/sandboxing.md). */
export { NO_SPACE, describeDiskFull, diskFullError, sandboxDiskFull } from './disk-full.js'
export { MIB, makeExt4 } from './ext4.js'
export type { Ext4Options } from './ext4.js'
export { loopBackingFile, mountAt, mountsUnder, parseMountinfo, readMounts } from './mounts.js'
export type { MountEntry } from './mounts.js'
export { assertRoomFor } from './room.js'
export {
  attachWorkspaceDisk,
  canMountDisks,
  createWorkspaceDisk,
  detachWorkspaceDisk,
} from './workspace-disk.js'
export type { WorkspaceDisk, WorkspaceDiskPlan } from './workspace-disk.js'
