import { realpath, stat } from 'node:fs/promises'
import { MIB, canMountDisks, loopBackingFile, mountAt } from '../disk/index.js'
import type { DiskLimits } from '../types.js'
import { DOCKER_DISK_KEY, type DockerBackendOptions } from './options.js'
import { WRITABLE_PATHS, type RootLayer } from './root-layer.js'

/** The workspace disk the mirror is mounted from, if it is one: its size in MiB. */
export async function mirrorDiskMib(mirrorDir: string): Promise<number | undefined> {
  const real = await realpath(mirrorDir).catch(() => undefined)
  const mount = real === undefined ? undefined : await mountAt(real)
  const image = mount === undefined ? undefined : await loopBackingFile(mount.source)
  if (image === undefined) return undefined
  const size = await stat(image).then(
    (s) => s.size,
    () => undefined,
  )
  return size === undefined ? undefined : Math.round(size / MIB)
}

/**
 * What a container may store. `mirrorMib` is the disk a sandbox's mirror is on (undefined: a
 * plain directory); without a mirror (`doctor`), what a new session would get.
 */
export async function dockerDiskLimits(
  options: DockerBackendOptions,
  root: RootLayer,
  mirror?: { mib: number | undefined },
): Promise<DiskLimits> {
  const canMount = mirror === undefined ? await canMountDisks() : mirror.mib !== undefined
  const mib = mirror?.mib ?? options.diskMb
  const readOnly = options.readOnlyRoot || root === 'read-only'
  return {
    key: DOCKER_DISK_KEY,
    mib: options.diskMb,
    workspace: canMount
      ? { enforced: true, how: `/workspace is a ${mib} MiB ext4 disk (loop-mounted as the mirror)` }
      : {
          enforced: false,
          how: 'not enforced: /workspace is a plain host directory (only root can mount a disk for it); a command can fill the disk holding the state directory',
        },
    root: readOnly
      ? {
          enforced: true,
          how: `the root is read-only; ${WRITABLE_PATHS.join(', ')} are tmpfs of ${options.tmpSizeMb} MiB each (memory, within ${options.memoryMb} MiB)`,
        }
      : {
          enforced: true,
          how: `the writable layer is capped at ${options.diskMb} MiB (storage-opt size); /tmp is a tmpfs of ${options.tmpSizeMb} MiB`,
        },
  }
}
