import { MAX_LIST_ENTRIES, MAX_PULL_FILE_BYTES } from '../../../guest/protocol.js'
import { SafeCoderError, isSafeCoderError } from '../../../shared/errors.js'
import { BlockDevice } from './block-device.js'
import { readRunChunks, readRuns, type Run } from './block-map.js'

/** What a recovery holds of one file at a time. */
const CHUNK_BYTES = 1024 * 1024
import { DriveFormatError, refuse, within } from './format-error.js'
import type { Volume } from './inode.js'
import { replayJournal } from './journal.js'
import { parseSuperblock, readInodeTables, readSuperblock, type Geometry } from './superblock.js'
import { walkTree, type DriveEntry, type DriveLimits } from './walk.js'

export type { DriveEntry, DriveLimits } from './walk.js'

/**
 * A guest-written ext4 drive, read by Safe Coder's own bounded reader: no mount, no e2fsck, no
 * debugfs, nothing written (the journal is replayed in memory). The whole tree is checked when
 * the drive is opened, so a drive is either refused before anything is done with it, or every
 * entry it yields is sound.
 */
export interface DriveTree {
  readonly entries: readonly DriveEntry[]
  /** What a live pull would also have left in the guest, with why. */
  readonly skipped: readonly { path: string; reason: string }[]
  /** A regular file's bytes (from the block map checked at open). */
  read(entry: DriveEntry): Promise<Buffer>
  /** The same bytes in chunks of at most 1 MiB, for files of any size. */
  chunks(entry: DriveEntry): AsyncIterable<Buffer>
  close(): Promise<void>
}

export async function openDriveTree(
  file: string,
  limits: Partial<DriveLimits> = {},
): Promise<DriveTree> {
  const device = await BlockDevice.open(file).catch((error: unknown) => {
    throw refusal(file, error)
  })
  try {
    const volume = await mount(device)
    const tree = await walkTree(volume, {
      maxFileBytes: limits.maxFileBytes ?? MAX_PULL_FILE_BYTES,
      maxEntries: limits.maxEntries ?? MAX_LIST_ENTRIES,
      maxReadBytes: limits.maxReadBytes ?? device.size,
    })
    const fileOf = (entry: DriveEntry): { runs: Run[]; size: number } => {
      const runs = tree.runs.get(entry.inode)
      if (entry.kind !== 'file' || runs === undefined)
        throw new Error(`${entry.path} is not a regular file of this drive (or is too large)`)
      return { runs, size: entry.size }
    }
    return {
      entries: tree.entries,
      skipped: tree.skipped,
      read: async (entry) => {
        const { runs, size } = fileOf(entry)
        return readRuns(volume, runs, size).catch((error: unknown) => {
          throw refusal(file, error)
        })
      },
      chunks: async function* (entry) {
        const { runs, size } = fileOf(entry)
        try {
          yield* readRunChunks(volume, runs, size, CHUNK_BYTES)
        } catch (error) {
          throw refusal(file, error)
        }
      },
      close: () => device.close(),
    }
  } catch (error) {
    await device.close()
    throw refusal(file, error)
  }
}

/** A refused drive: SANDBOX_FAILED with `data.refused` holding why. */
export function isDriveRefusal(error: unknown): error is SafeCoderError {
  return isSafeCoderError(error, 'SANDBOX_FAILED') && typeof error.data?.refused === 'string'
}

/** Superblock, group tables, then the same again as the journal's replay leaves them. */
async function mount(device: BlockDevice): Promise<Volume> {
  const geometry = parseSuperblock(await readSuperblock(device))
  device.setGeometry(geometry.blockSize, geometry.blocks)
  const volume: Volume = {
    device,
    geometry,
    inodeTables: await readInodeTables(device, geometry),
  }
  const copies = await within('the journal', () => replayJournal(volume))
  if (copies.size === 0) return volume
  device.setJournal(copies)
  const replayed = parseSuperblock(await readSuperblock(device, geometry.blockSize))
  if (!sameShape(geometry, replayed)) refuse("the journal changes the file system's size")
  return { device, geometry: replayed, inodeTables: await readInodeTables(device, replayed) }
}

function sameShape(a: Geometry, b: Geometry): boolean {
  return (['blockSize', 'blocks', 'inodes', 'inodesPerGroup', 'inodeSize'] as const).every(
    (key) => a[key] === b[key],
  )
}

function refusal(file: string, error: unknown): unknown {
  if (!(error instanceof DriveFormatError)) return error
  return new SafeCoderError(
    'SANDBOX_FAILED',
    `Refused to recover the workspace from the VM drive ${file}: ${error.message}.`,
    {
      hint: 'The guest left a file system Safe Coder will not read (crafted, or damaged), so nothing was taken from it: the mirror and the history stay as the last pull left them, and what the guest wrote after it is lost. `safe-coder resume` goes on from there.',
      data: { drive: file, refused: error.message },
    },
  )
}
