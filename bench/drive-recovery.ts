import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { openDriveTree } from '../src/sandbox/microvm/ext4/index.js'
import { createWorkspaceDrive } from '../src/sandbox/microvm/image/index.js'
import { findTool } from '../src/sandbox/microvm/image/tools.js'
import { recoverWorkspaceDrive } from '../src/sandbox/microvm/recover.js'
import { DEFAULT_MAX_FILE_BYTES } from '../src/sandbox/types.js'
import { formatResults, median, result, seeded, time, type BenchResult } from './lib.js'

/**
 * Recovering a dead VM's workspace drive with Safe Coder's own ext4 reader, against what it
 * replaced: `debugfs rdump` of the same drive into an empty directory. The old recovery then
 * still diffed that copy against the mirror and applied it with the same code as today; the
 * anchor leaves that out, so it is a floor for the old path. Measured: the reader alone (open,
 * check, every file's bytes), and the whole recovery into a current and into an empty mirror
 * (the latter is mostly the mirror's per-file fsync, which the old path paid too).
 */
export async function benchDriveRecovery(options: {
  files: number
  runs: number
}): Promise<BenchResult[]> {
  const debugfs = await findTool('debugfs')
  if (debugfs === undefined) throw new Error('debugfs is missing: apt-get install e2fsprogs')
  const work = await mkdtemp(path.join(os.tmpdir(), 'sc-bench-drive-'))
  try {
    const tree = path.join(work, 'tree')
    const random = seeded(14)
    for (let i = 0; i < options.files; i++) {
      const dir = path.join(tree, `dir-${Math.floor(i / 100)}`)
      if (i % 100 === 0) await mkdir(dir, { recursive: true })
      const size = Math.floor(random() * 4096)
      await writeFile(path.join(dir, `file-${i}.txt`), Buffer.alloc(size, `${i} `))
    }
    const drive = path.join(work, 'workspace.ext4')
    await createWorkspaceDrive(tree, drive)
    const rdump: number[] = []
    const reader: number[] = []
    const intoEmpty: number[] = []
    const intoSame: number[] = []
    for (let run = 0; run < options.runs; run++) {
      const dumped = path.join(work, `dumped-${run}`)
      await mkdir(dumped)
      rdump.push(await time(() => execa(debugfs, ['-R', `rdump / ${dumped}`, drive])))
      await rm(dumped, { recursive: true, force: true })
      reader.push(await time(() => readEverything(drive)))
      const mirror = path.join(work, `mirror-${run}`)
      await mkdir(mirror)
      intoEmpty.push(await time(() => recoverWorkspaceDrive(drive, mirror, DEFAULT_MAX_FILE_BYTES)))
      intoSame.push(await time(() => recoverWorkspaceDrive(drive, mirror, DEFAULT_MAX_FILE_BYTES)))
      await rm(mirror, { recursive: true, force: true })
    }
    const anchor = `debugfs rdump (${options.files} files)`
    return [
      result('drive read and checked, every byte', anchor, median(reader), median(rdump), 1),
      result('drive recovery, mirror already current', anchor, median(intoSame), median(rdump), 1),
      result(
        'drive recovery into an empty mirror',
        anchor,
        median(intoEmpty),
        median(rdump),
        Infinity,
      ),
    ]
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

async function readEverything(drive: string): Promise<void> {
  const tree = await openDriveTree(drive)
  try {
    for (const entry of tree.entries) if (entry.kind === 'file') await tree.read(entry)
  } finally {
    await tree.close()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.env.BENCH_RUNS ?? 5)
  console.log(formatResults(await benchDriveRecovery({ files: 10_000, runs })))
}
