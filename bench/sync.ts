import { execa } from 'execa'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Manifest, SyncSource } from '../src/shared/manifest.js'
import { applySync, blobOid, lockSyncProject, planSync, undoSync } from '../src/workspace/sync.js'
import { formatResults, median, result, time, type BenchResult } from './lib.js'

const changedFiles = 10

/** A generated project of `count` small source files in nested folders, and its manifest. */
async function createProject(
  root: string,
  count: number,
): Promise<{ project: string; base: Manifest }> {
  const project = path.join(root, `project-${count}`)
  const base: Manifest = {}
  const files: [string, string][] = []
  for (let i = 0; i < count; i++) {
    const rel = `packages/pkg-${i % 40}/src/mod-${(i >> 6) % 16}/file-${i}.ts`
    const text = `export const value${i} = ${i}\n`.repeat(12 + (i % 40))
    files.push([rel, text])
    const bytes = Buffer.from(text)
    base[rel] = { oid: blobOid(bytes), mode: 0o100644, size: bytes.length }
  }
  for (const dir of new Set(files.map(([rel]) => path.dirname(path.join(project, rel))))) {
    await mkdir(dir, { recursive: true })
  }
  for (let i = 0; i < files.length; i += 256) {
    await Promise.all(
      files.slice(i, i + 256).map(([rel, text]) => writeFile(path.join(project, rel), text)),
    )
  }
  await execa('sync')
  return { project, base }
}

/** The session: the base plus `changedFiles` edited files, held in memory. */
function sessionOf(base: Manifest): SyncSource & { changed: string[] } {
  const manifest: Manifest = { ...base }
  const blobs = new Map<string, Uint8Array>()
  const paths = Object.keys(base)
  const changed: string[] = []
  for (let i = 0; i < changedFiles; i++) {
    const rel = paths[Math.floor((i * paths.length) / changedFiles)] ?? ''
    const bytes = Buffer.from(`export const edited${i} = true\n`.repeat(30))
    blobs.set(blobOid(bytes), bytes)
    manifest[rel] = { oid: blobOid(bytes), mode: 0o100644, size: bytes.length }
    changed.push(rel)
  }
  return {
    changed,
    entries: () => Promise.resolve(manifest),
    read: (_rel, entry) => Promise.resolve(blobs.get(entry.oid) ?? new Uint8Array()),
  }
}

/** Median milliseconds of a full sync-back (plan, journal, apply), undone between runs. */
async function timeSyncs(
  fixture: { project: string; base: Manifest; source: SyncSource & { changed: string[] } },
  journalDir: string,
  runs: number,
  withChangeList: boolean,
): Promise<number> {
  const { project, base, source } = fixture
  const times: number[] = []
  const locks = path.join(journalDir, '..', 'projects')
  const lockIt = () =>
    lockSyncProject({ root: locks, projectDir: project, holder: 'bench', waitMs: 0 })
  for (let run = 0; run < runs; run++) {
    times.push(
      await time(async () => {
        const lock = await lockIt()
        try {
          const plan = await planSync({
            projectDir: project,
            base,
            source,
            ...(withChangeList ? { changed: source.changed } : {}),
          })
          if (plan.items.length !== changedFiles) throw new Error('unexpected sync plan')
          await applySync(plan, { lock, source, journalDir, confirmRisky: false })
        } finally {
          await lock.release()
        }
      }),
    )
    const lock = await lockIt()
    await undoSync({ lock, journalDir }).finally(() => lock.release())
  }
  if (process.env.BENCH_VERBOSE === '1') {
    const label = `${Object.keys(base).length} files${withChangeList ? ', change list' : ''}`
    console.error(`sync ${label}: ${times.map((t) => t.toFixed(1)).join(' ')}`)
  }
  return median(times)
}

// Sync-back cost must follow the size of the change, not of the project (issue 3).
export async function benchSync(options: { runs: number }): Promise<BenchResult[]> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-sync-'))
  try {
    const small = await createProject(root, 1_000)
    const large = await createProject(root, 50_000)
    const fixtures = [small, large].map((fixture) => ({
      ...fixture,
      source: sessionOf(fixture.base),
    }))
    const results: BenchResult[] = []
    for (const withChangeList of [false, true]) {
      const medians: number[] = []
      for (const [index, fixture] of fixtures.entries()) {
        const journalDir = path.join(root, `journal-${index}-${String(withChangeList)}`)
        medians[index] = await timeSyncs(fixture, journalDir, options.runs, withChangeList)
      }
      const how = withChangeList ? 'changed paths given' : 'whole manifests compared'
      results.push(
        result(
          `sync-back of ${changedFiles} changed files (plan + journal + apply; ${how}), 50,000-file project, median`,
          'the same in a 1,000-file project',
          medians[1] ?? Number.NaN,
          medians[0] ?? Number.NaN,
          1.5,
        ),
      )
    }
    return results
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 15)
  console.log(formatResults(await benchSync({ runs })))
}
