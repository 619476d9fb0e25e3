import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { initAuditRepo, snapshot } from '../src/git/index.js'
import {
  attachWorkspaceDisk,
  canMountDisks,
  createWorkspaceDisk,
  detachWorkspaceDisk,
} from '../src/sandbox/disk/index.js'
import { copyIn } from '../src/workspace/copy-in.js'
import { createBenchTree } from './copy-in.js'
import { formatResults, median, result, time, type BenchResult } from './lib.js'

const KEY = '[docker] disk_mb'

/**
 * What a session's workspace disk costs (docs/sandboxing.md#disk-limits), each against the
 * same step on a plain directory in the same run: making the mirror (mkfs + mount against a
 * mkdir), copying a project in, the first commit (a full scan), and the check every command
 * makes that the disk is mounted with room to fill. Needs root (it mounts loop devices).
 */
export async function benchDisk(options: {
  runs: number
  files?: number
  sizeMib?: number
}): Promise<BenchResult[]> {
  if (!(await canMountDisks())) throw new Error('bench/disk.ts mounts loop devices: run as root.')
  const count = options.files ?? 5_000
  const sizeMib = options.sizeMib ?? 10_240
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-disk-'))
  const samples = {
    make: { disk: [] as number[], plain: [] as number[] },
    copy: { disk: [] as number[], plain: [] as number[] },
    commit: { disk: [] as number[], plain: [] as number[] },
    reopen: [] as number[],
  }
  try {
    const tree = await createBenchTree(root, count)
    const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
    const once = async (kind: 'disk' | 'plain', slot: number): Promise<void> => {
      const dir = path.join(root, `${kind}-${slot}`)
      const work = path.join(dir, 'work')
      const disk = { image: path.join(dir, 'workspace.ext4'), mountPoint: work }
      await mkdir(dir)
      samples.make[kind].push(
        await time(() =>
          kind === 'disk' ? createWorkspaceDisk(disk, { sizeMib, key: KEY }, owner) : mkdir(work),
        ),
      )
      samples.copy[kind].push(
        await time(() => copyIn({ projectDir: tree.project, mirrorDir: work })),
      )
      const repo = await initAuditRepo({ gitdir: path.join(dir, 'audit.git'), workDir: work })
      samples.commit[kind].push(await time(() => snapshot(repo, { message: 'snapshot' })))
      if (kind === 'disk') {
        samples.reopen.push(await time(() => attachWorkspaceDisk(disk, KEY, { checkRoom: true })))
        await detachWorkspaceDisk(work)
      }
      await rm(dir, { recursive: true })
    }
    for (let i = 0; i < options.runs; i++) {
      // Alternate who goes first: the page cache and writeback favour neither side.
      const order: ('disk' | 'plain')[] = i % 2 === 0 ? ['disk', 'plain'] : ['plain', 'disk']
      for (const kind of order) await once(kind, i)
    }
    const files = `${count.toLocaleString('en')} files`
    const none = Number.POSITIVE_INFINITY
    return [
      result(
        `new mirror: ${sizeMib} MiB disk (mkfs + mount)`,
        'mkdir',
        median(samples.make.disk),
        median(samples.make.plain),
        none,
      ),
      result(
        `copy-in ${files} onto the disk`,
        'into a plain directory',
        median(samples.copy.disk),
        median(samples.copy.plain),
        1.2,
      ),
      result(
        `first commit (full scan) of ${files} on the disk`,
        'on a plain directory',
        median(samples.commit.disk),
        median(samples.commit.plain),
        1.2,
      ),
      result(
        'per command: disk mounted and room to fill (checked)',
        'mkdir',
        median(samples.reopen),
        median(samples.make.plain),
        none,
      ),
    ]
  } finally {
    for (const entry of ['disk', 'plain'].flatMap((k) =>
      Array.from({ length: options.runs }, (_, i) => path.join(root, `${k}-${i}`, 'work')),
    ))
      await detachWorkspaceDisk(entry).catch(() => undefined)
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 7)
  console.log(formatResults(await benchDisk({ runs })))
}
