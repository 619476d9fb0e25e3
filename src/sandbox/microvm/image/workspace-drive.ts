import { mkdir, readdir, rm, rmdir, stat } from 'node:fs/promises'
import { execa } from 'execa'
import path from 'node:path'
import { SafeCoderError } from '../../../shared/errors.js'
import { MIB, makeExt4 } from '../../disk/ext4.js'
import { treeUsage } from './fs-walk.js'
import { WORKSPACE_DRIVE_SERIAL } from './init-scripts.js'
import { findTool, requireTool, runTool } from './tools.js'

/**
 * The VM's /workspace is a second ext4 drive, made from the host mirror with `mkfs.ext4 -d`
 * (owners, modes, links and times kept; no mount) and read back with `debugfs rdump` when the
 * VM died before the agent could hand its changes over.
 */

export const WORKSPACE_LABEL = WORKSPACE_DRIVE_SERIAL

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

/**
 * Copies a workspace drive's files into `intoDir` (which must be empty or missing) without
 * mounting it: first the journal is replayed (`e2fsck -E journal_only`, so writes the guest
 * committed before it died are not lost), then `debugfs rdump` writes the tree with owners,
 * modes and times. The drive must not be in use by a running VM.
 */
export async function recoverWorkspaceDrive(
  drivePath: string,
  intoDir: string,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const debugfs = await requireTool('debugfs', 'to read a workspace drive back')
  const signal = options.signal === undefined ? {} : { signal: options.signal }
  await mkdir(intoDir, { recursive: true })
  if ((await readdir(intoDir)).length > 0) {
    throw new SafeCoderError('SANDBOX_FAILED', `Cannot recover into ${intoDir}: it is not empty.`)
  }
  const e2fsck = await findTool('e2fsck')
  if (e2fsck !== undefined) {
    // Exit 1 means "fixed something" (the replay itself); only ≥ 4 is a failure.
    const result = await execa(e2fsck, ['-E', 'journal_only', '-y', drivePath], {
      reject: false,
      stdin: 'ignore',
      cancelSignal: options.signal,
    })
    if ((result.exitCode ?? 8) >= 4) {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Cannot replay the journal of ${drivePath}: ${(result.stderr || result.stdout).trim().split('\n').slice(-2).join(' / ')}`,
        { hint: `Inspect it by hand: e2fsck -n ${drivePath}` },
      )
    }
  }
  // rdump of "/" writes the root's entries into intoDir and gives it the root's owner and mode.
  const { stderr } = await runTool(debugfs, ['-R', `rdump / ${debugfsQuote(intoDir)}`, drivePath], {
    what: `debugfs rdump ${drivePath}`,
    ...signal,
  })
  const failures = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('debugfs '))
  // mkfs.ext4 made it; it was never part of the project. Kept when the guest put files in it.
  await rmdir(path.join(intoDir, 'lost+found')).catch(() => undefined)
  if (failures.length > 0) {
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `debugfs could not recover everything from ${drivePath}: ${failures.slice(0, 3).join(' / ')}`,
      { data: { failures: failures.slice(0, 20) } },
    )
  }
}

/** A debugfs (libss) command argument: double-quoted, a `"` inside doubled. */
export function debugfsQuote(arg: string): string {
  if (arg.includes('\n')) throw new Error(`debugfs cannot take a path with a newline: ${arg}`)
  return `"${arg.replace(/"/g, '""')}"`
}
