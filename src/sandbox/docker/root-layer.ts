import type Docker from 'dockerode'
import type { ContainerCreateOptions } from 'dockerode'
import { engineMessage } from './engine-errors.js'

/**
 * How a container's own file system (everything but /workspace) is kept within bounds:
 * - `storage-opt`: the engine caps the writable layer (`--storage-opt size=`), which overlay2
 *   can do only on xfs mounted with `pquota`, and btrfs, zfs and devicemapper always;
 * - `read-only`: the root is read-only and the places a program expects to write (/tmp,
 *   /var/tmp, /run/lock: the world-writable directories of Safe Coder's image) are sized
 *   tmpfs mounts. tmpfs is memory: it is charged to the container's memory limit, never to
 *   the host's disk.
 */
export type RootLayer = 'storage-opt' | 'read-only'

/** Where a read-only root gets a sized tmpfs, each at `[docker] tmp_size_mb`. */
export const WRITABLE_PATHS = ['/tmp', '/var/tmp', '/run/lock'] as const

const SIZED_DRIVERS = new Set(['btrfs', 'zfs', 'devicemapper'])
const XFS_QUOTA_DRIVERS = new Set(['overlay2', 'overlay', 'vfs'])

/**
 * What the engine's storage driver can do, from `docker info`. overlay2 on xfs may still lack
 * `pquota`; the engine then refuses the create (see `isStorageOptRefusal`) and the sandbox is
 * made again with a read-only root.
 */
export function rootLayerFor(driver: string | undefined, backingFs: string | undefined): RootLayer {
  if (driver === undefined) return 'read-only'
  if (SIZED_DRIVERS.has(driver)) return 'storage-opt'
  if (XFS_QUOTA_DRIVERS.has(driver) && backingFs === 'xfs') return 'storage-opt'
  return 'read-only'
}

/**
 * Creates a container with its root bounded as `root` says. overlay2 on xfs without `pquota`
 * refuses a size cap: the root is then read-only instead, and `onRefused` lets the caller skip
 * the attempt for later sandboxes.
 */
export async function createBounded(
  docker: Docker,
  root: RootLayer,
  build: (root: RootLayer) => ContainerCreateOptions,
  onRefused: () => void,
): Promise<{ container: Docker.Container; root: RootLayer }> {
  try {
    return { container: await docker.createContainer(build(root)), root }
  } catch (error) {
    if (root !== 'storage-opt' || !isStorageOptRefusal(error)) throw error
    onRefused()
    return { container: await docker.createContainer(build('read-only')), root: 'read-only' }
  }
}

/** The engine said it cannot cap the writable layer ("--storage-opt is supported only for …"). */
export function isStorageOptRefusal(error: unknown): boolean {
  return /storage-?opt|pquota|quota|storage option/i.test(engineMessage(error))
}

/** The backing file system in `docker info`'s DriverStatus pairs (overlay2: "Backing Filesystem"). */
export function backingFilesystem(status: unknown): string | undefined {
  if (!Array.isArray(status)) return undefined
  for (const pair of status as unknown[]) {
    if (Array.isArray(pair) && pair[0] === 'Backing Filesystem' && typeof pair[1] === 'string')
      return pair[1]
  }
  return undefined
}
