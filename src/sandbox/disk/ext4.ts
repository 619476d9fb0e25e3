import { mkdir, rm, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError, isSafeCoderError } from '../../shared/errors.js'
import { formatBytes } from '../../shared/format.js'
import { requireTool, runTool } from '../microvm/image/tools.js'
import { assertRoomFor } from './room.js'

export const MIB = 1024 * 1024

export interface Ext4Options {
  /** Volume label (at most 16 bytes). */
  label: string
  /** A directory whose tree becomes the file system's content (`mkfs.ext4 -d`). */
  fromDir?: string
  /** Owner of the root directory (without `fromDir`). */
  rootOwner?: { uid: number; gid: number }
  /** The config key that sets the size, named when the content does not fit. */
  sizeKey: string
  /** Exactly these features (`-O none,…`) instead of the host's mke2fs.conf defaults. */
  features?: readonly string[]
  signal?: AbortSignal
}

/**
 * Makes `file` (replaced if present) a sparse ext4 file system of `sizeBytes`. The new file
 * reads as zeros, so nothing is initialised up front, and the inode tables are marked as
 * zeroed where mke2fs can say so (1.47+): a kernel mounting it later does not spend minutes
 * writing zeros into a file that is already all holes. No reserved blocks: the sandbox is the
 * only user. After an I/O error the file system goes read-only instead of carrying on. The host
 * must have room for the whole size first (see `assertRoomFor`).
 */
export async function makeExt4(file: string, sizeBytes: number, options: Ext4Options) {
  const mkfs = await requireTool('mkfs.ext4', 'to make a sandbox disk')
  await mkdir(path.dirname(file), { recursive: true })
  await rm(file, { force: true })
  await assertRoomFor(file, sizeBytes, options.sizeKey)
  await writeFile(file, '', { mode: 0o600 })
  await truncate(file, sizeBytes)
  const extended = [
    'lazy_itable_init=1',
    'lazy_journal_init=1',
    'nodiscard',
    ...(options.rootOwner === undefined
      ? []
      : [`root_owner=${options.rootOwner.uid}:${options.rootOwner.gid}`]),
  ]
  const run = (prezeroed: boolean) =>
    runTool(
      mkfs,
      [
        '-F',
        '-q',
        '-t',
        'ext4',
        '-L',
        options.label,
        '-m',
        '0',
        // One inode per 8 KiB (1.3 million files on 10 GiB): node_modules-sized trees of small
        // files run out of inodes at mke2fs's default of one per 16 KiB.
        '-i',
        '8192',
        '-e',
        'remount-ro',
        ...(options.features === undefined ? [] : ['-O', `none,${options.features.join(',')}`]),
        '-E',
        [...extended, ...(prezeroed ? ['assume_storage_prezeroed=1'] : [])].join(','),
        ...(options.fromDir === undefined ? [] : ['-d', options.fromDir]),
        file,
      ],
      {
        what: `mkfs.ext4 ${options.fromDir === undefined ? '' : `-d ${options.fromDir} `}${file}`,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    )
  try {
    try {
      await run(true)
    } catch (error) {
      // e2fsprogs before 1.47 (Ubuntu 22.04) does not know the option; the rest is the same.
      if (!isSafeCoderError(error) || !/assume_storage_prezeroed|Bad option/i.test(error.message))
        throw error
      await run(false)
    }
  } catch (error) {
    await rm(file, { force: true })
    throw tooSmall(error, sizeBytes, options) ?? error
  }
}

/** mkfs.ext4 -d ran out of blocks or inodes: the tree is larger than the configured size. */
function tooSmall(error: unknown, sizeBytes: number, options: Ext4Options) {
  if (!isSafeCoderError(error) || options.fromDir === undefined) return undefined
  if (!/Could not allocate|No space left|inode|too many/i.test(error.message)) return undefined
  return new SafeCoderError(
    'DISK_FULL',
    `The workspace (${options.fromDir}) does not fit in a ${formatBytes(sizeBytes)} sandbox disk (${options.sizeKey}).`,
    {
      hint: `Raise ${options.sizeKey}, or exclude large folders with [workspace] exclude.`,
      cause: error,
      data: { key: options.sizeKey, sizeBytes },
    },
  )
}
