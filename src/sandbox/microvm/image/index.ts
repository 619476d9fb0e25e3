/** The microVM guest image: kernel, initramfs, root filesystem, workspace drives. */
export {
  buildGuestImage,
  defaultGuestImageCacheDir,
  findGuestImage,
  guestImageStatus,
  loadGuestImage,
  pruneGuestImages,
  GUEST_IMAGE_FORMAT,
  IMAGE_FILES,
} from './build.js'
export type {
  BuiltGuestImage,
  GuestImageManifest,
  GuestImageOptions,
  GuestImageStatus,
  GuestImageStep,
  GuestTreeSource,
} from './build.js'
export {
  AGENT_MARKER,
  BOOT_ERROR_PREFIX,
  GUEST_HOSTNAME,
  ROOT_DRIVE_SERIAL,
  WORKSPACE_DRIVE_SERIAL,
} from './init-scripts.js'
export { createWorkspaceDrive, WORKSPACE_FEATURES } from './workspace-drive.js'
export type { WorkspaceDriveOptions } from './workspace-drive.js'
