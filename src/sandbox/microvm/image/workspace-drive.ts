import { rm, stat } from 'node:fs/promises'
import { SafeCoderError } from '../../../shared/errors.js'
import { MIB, makeExt4 } from '../../disk/ext4.js'
import { treeUsage } from './fs-walk.js'
import { WORKSPACE_DRIVE_SERIAL } from './init-scripts.js'
import { requireTool, runTool } from './tools.js'

/**
 * The VM's /workspace is a second ext4 drive, made from the host mirror with `mkfs.ext4 -d`
 * (owners, modes, links and times kept; no mount). When the VM dies before the agent could
 * hand its changes over, Safe Coder's own reader takes them from it (../ext4/, ../recover.ts).
 */

export const WORKSPACE_LABEL = WORKSPACE_DRIVE_SERIAL

/**
 * The drive's features, pinned (`-O none,…`) so that no host's mke2fs.conf adds one the
 * recovery reader refuses (orphan_file, metadata_csum_seed, inline_data, …).
 */
export const WORKSPACE_FEATURES = [
  'has_journal',
  'ext_attr',
  'resize_inode',
  'dir_index',
  'filetype',
  'extent',
  '64bit',
  'flex_bg',
  'sparse_super',
  'large_file',
  'huge_file',
  'dir_nlink',
  'extra_isize',
  'metadata_csum',
] as const

export interface WorkspaceDriveOptions {
  /** The drive's size: the most the guest can keep in /workspace (default 1024 MiB). */
  sizeMib?: number
  /** The config key that sets the size, named when the mirror does not fit. */
  sizeKey?: string
  signal?: AbortSignal
}

/**
 * Makes `drivePath` (a sparse file, replaced if present) an ext4 filesystem of the given size
 * holding a copy of `mirrorDir`, whose root directory becomes the drive's root (owner and mode
 * included). A mirror that does not fit is DISK_FULL naming the size's key.
 */
export async function createWorkspaceDrive(
  mirrorDir: string,
  drivePath: string,
  options: WorkspaceDriveOptions = {},
): Promise<{ sizeBytes: number; contentBytes: number }> {
  const debugfs = await requireTool('debugfs', 'to make the VM workspace drive')
  const signal = options.signal === undefined ? {} : { signal: options.signal }
  const info = await stat(mirrorDir).catch(() => undefined)
  if (info?.isDirectory() !== true) {
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `The workspace mirror ${mirrorDir} is not a directory.`,
    )
  }
  const usage = await treeUsage(mirrorDir)
  const size = (options.sizeMib ?? 1024) * MIB
  await makeExt4(drivePath, size, {
    label: WORKSPACE_LABEL,
    fromDir: mirrorDir,
    sizeKey: options.sizeKey ?? 'the drive size',
    features: WORKSPACE_FEATURES,
    ...signal,
  })
  try {
    // mkfs.ext4 -d (1.47.0) gives the root directory 0755 root:root; the guest must see the
    // mirror's own owner and mode at /workspace.
    await runTool(
      debugfs,
      ['-w', '-R', `sif / mode 0${(0o040000 | (info.mode & 0o7777)).toString(8)}`, drivePath],
      { what: 'debugfs set_inode_field / mode', ...signal },
    )
    for (const [field, value] of [
      ['uid', info.uid],
      ['gid', info.gid],
    ] as const) {
      await runTool(debugfs, ['-w', '-R', `sif / ${field} ${value}`, drivePath], {
        what: `debugfs set_inode_field / ${field}`,
        ...signal,
      })
    }
  } catch (error) {
    await rm(drivePath, { force: true })
    throw error
  }
  return { sizeBytes: size, contentBytes: usage.blockBytes }
}
