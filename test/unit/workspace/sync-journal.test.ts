import { createHash } from 'node:crypto'
import {
  chmod,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  symlink,
  writeFile,
} from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isSafeCoderError, type ErrorCode } from '../../../src/shared/errors.js'
import type { GitFileMode, Manifest, SyncSource } from '../../../src/shared/manifest.js'
import {
  applySync,
  blobOid,
  lockSyncProject,
  planSync,
  recoverSync,
  undoSync,
  type ProjectLock,
  type SyncPlan,
} from '../../../src/workspace/sync.js'
import { tempDir, writeTree } from './fixtures.js'

type SessionFile = string | { content: string; mode?: GitFileMode } | { linkTo: string }

/** An in-memory SyncSource (path → content and mode), ids computed like git's. */
function memorySource(files: Record<string, SessionFile>): SyncSource {
  const manifest: Manifest = {}
  const blobs = new Map<string, Uint8Array>()
  for (const [rel, file] of Object.entries(files)) {
    const isLink = typeof file === 'object' && 'linkTo' in file
    const text = typeof file === 'string' ? file : 'linkTo' in file ? file.linkTo : file.content
    const mode = isLink
      ? 0o120000
      : typeof file === 'object' && 'mode' in file
        ? (file.mode ?? 0o100644)
        : 0o100644
    const bytes = Buffer.from(text)
    blobs.set(blobOid(bytes), bytes)
    manifest[rel] = { oid: blobOid(bytes), mode, size: bytes.length }
  }
  return {
    entries: () => Promise.resolve(structuredClone(manifest)),
    read: (_rel, entry) => Promise.resolve(blobs.get(entry.oid) ?? new Uint8Array()),
  }
}

/**
 * Every entry under `root` (directories included) with its type, permission bits and content
 * hash or link target: two equal snapshots mean a byte-for-byte identical tree.
 */
async function snapshot(root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of (await readdir(path.join(root, rel))).sort()) {
    const child = rel === '' ? name : `${rel}/${name}`
    const file = path.join(root, child)
    const stats = await lstat(file)
    const mode = (stats.mode & 0o7777).toString(8)
    if (stats.isDirectory()) out.push(`${child}/ ${mode}`, ...(await snapshot(root, child)))
    else if (stats.isSymbolicLink()) out.push(`${child} -> ${await readlink(file)}`)
    else {
      const hash = createHash('sha256')
        .update(await readFile(file))
        .digest('hex')
      out.push(`${child} ${mode} ${hash}`)
    }
  }
  return out
}

/** The base manifest as copy-in recorded it. */
async function hostManifest(root: string, rel = ''): Promise<Manifest> {
  const manifest: Manifest = {}
  for (const name of await readdir(path.join(root, rel))) {
    const child = rel === '' ? name : `${rel}/${name}`
    const stats = await lstat(path.join(root, child))
    if (stats.isDirectory()) Object.assign(manifest, await hostManifest(root, child))
    else {
      const isLink = stats.isSymbolicLink()
      const bytes = isLink
        ? Buffer.from(await readlink(path.join(root, child)))
        : await readFile(path.join(root, child))
      const mode = isLink ? 0o120000 : (stats.mode & 0o100) !== 0 ? 0o100755 : 0o100644
      manifest[child] = { oid: blobOid(bytes), mode, size: bytes.length }
    }
  }
  return manifest
}

/**
 * A project with a bit of everything (nested dirs, private and executable files, a symlink) and
 * a session that creates, modifies, deletes, renames, changes modes and swaps a file for a link.
 */
async function richSync() {
  const project = await tempDir('safe-coder-sync-project-')
  const journalDir = path.join(await tempDir('safe-coder-sync-state-'), 'journal')
  await writeTree(project, {
    'README.md': '# r\n',
    'src/a.ts': 'a\n',
    'src/b.ts': 'b\n',
    'src/old.ts': 'old\n',
    'secret.env': 'TOKEN=1\n',
    'bin/run': '#!/bin/sh\n',
    'keep/untouched.txt': 'u\n',
  })
  await chmod(path.join(project, 'secret.env'), 0o600)
  await chmod(path.join(project, 'bin/run'), 0o755)
  await symlink('src/a.ts', path.join(project, 'link'))
  const base = await hostManifest(project)
  const source = memorySource({
    'README.md': { linkTo: 'src/a.ts' },
    'src/a.ts': 'a changed\n',
    'src/new.ts': 'old\n',
    'secret.env': 'TOKEN=2\n',
    'bin/run': { content: '#!/bin/sh\n', mode: 0o100644 },
    link: 'now a file\n',
    'keep/untouched.txt': 'u\n',
    'fresh/deep/dir/file.txt': 'new\n',
  })
  const plan = await planSync({ projectDir: project, base, source })
  return { project, journalDir, base, source, plan }
}

async function expectError(promise: Promise<unknown>, code: ErrorCode, message: RegExp) {
  const error: unknown = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(isSafeCoderError(error, code), String(error)).toBe(true)
  if (isSafeCoderError(error)) expect(error.message).toMatch(message)
  return error
}

/** The project's lock as a sync command takes it (the shared state beside the journals). */
function lockOf(project: string, journalDir: string): Promise<ProjectLock> {
  return lockSyncProject({
    root: path.join(path.dirname(journalDir), 'projects'),
    projectDir: project,
    holder: 'test',
    waitMs: 0,
  })
}

/** Applies under the project's lock: `lock` when the test holds it, else one taken for it. */
async function apply(
  plan: SyncPlan,
  source: SyncSource,
  journalDir: string,
  afterWrite?: (n: number) => void | Promise<void>,
  lock?: ProjectLock,
) {
  const held = lock ?? (await lockOf(plan.projectDir, journalDir))
  try {
    return await applySync(plan, {
      lock: held,
      source,
      journalDir,
      confirmRisky: true,
      ...(afterWrite ? { afterWrite } : {}),
    })
  } finally {
    if (lock === undefined) await held.release()
  }
}

/**
 * A sync that dies after its `killAt`th write, as a killed process would: nothing after that
 * write runs (no catch, no rollback), and its lock goes with it. Resolves once it is dead.
 */
async function killedAfter(
  plan: SyncPlan,
  source: SyncSource,
  journalDir: string,
  killAt: number,
): Promise<void> {
  let killed: () => void = () => undefined
  const died = new Promise<void>((resolve) => (killed = resolve))
  const lock = await lockOf(plan.projectDir, journalDir)
  void apply(
    plan,
    source,
    journalDir,
    (count) => {
      if (count < killAt) return undefined
      killed()
      return new Promise<void>(() => undefined)
    },
    lock,
  )
  await died
  await lock.release()
}

async function undo(project: string, journalDir: string, id?: string) {
  const lock = await lockOf(project, journalDir)
  try {
    return await undoSync({ lock, journalDir, ...(id === undefined ? {} : { id }) })
  } finally {
    await lock.release()
  }
}

async function recover(project: string, journalDir: string) {
  const lock = await lockOf(project, journalDir)
  try {
    return await recoverSync({ lock, journalDir })
  } finally {
    await lock.release()
  }
}

describe('applySync writes', () => {
  it('each file atomically: a new inode renamed in, no temp file left behind', async () => {
    const { project, journalDir, plan, source } = await richSync()
    await link(path.join(project, 'src/a.ts'), path.join(project, 'hardlink-to-a'))
    // Files are written side by side, so a temp file may be seen mid-sync; none is left after.
    await apply(plan, source, journalDir)
    const seen = [(await readdir(path.join(project, 'src'))).filter((n) => n.endsWith('.tmp'))]
    expect(await readFile(path.join(project, 'src/a.ts'), 'utf8')).toBe('a changed\n')
    // Written in place, the hard link would show the new content too.
    expect(await readFile(path.join(project, 'hardlink-to-a'), 'utf8')).toBe('a\n')
    expect(seen.flat()).toEqual([])
    expect((await lstat(path.join(project, 'secret.env'))).mode & 0o777).toBe(0o600)
    expect((await lstat(path.join(project, 'bin/run'))).mode & 0o111).toBe(0)
  })

  it('a journal with the plan and a backup of every file it replaces, before changing anything', async () => {
    const { journalDir, plan, source } = await richSync()
    const journalStates: string[] = []
    const result = await apply(plan, source, journalDir, async () => {
      journalStates.push(
        (
          await readFile(
            path.join(journalDir, (await readdir(journalDir))[0] ?? '', 'state'),
            'utf8',
          )
        ).trim(),
      )
    })
    expect(journalStates.every((state) => state === 'started')).toBe(true)
    const dir = path.join(journalDir, result.id ?? '')
    expect((await readFile(path.join(dir, 'state'), 'utf8')).trim()).toBe('done')
    const record = JSON.parse(await readFile(path.join(dir, 'journal.json'), 'utf8')) as {
      changes: { path: string; before?: { backup: string } }[]
      createdDirs: string[]
    }
    const secret = record.changes.find((change) => change.path === 'secret.env')
    expect(await readFile(path.join(dir, secret?.before?.backup ?? ''), 'utf8')).toBe('TOKEN=1\n')
    expect(record.createdDirs).toEqual(['fresh', 'fresh/deep', 'fresh/deep/dir'])
    expect(result.id).toMatch(/^sync-/)
  })

  it('turns a host file edited after planning into a conflict instead of overwriting it', async () => {
    const { project, journalDir, plan, source } = await richSync()
    await writeFile(path.join(project, 'src/a.ts'), 'edited meanwhile\n')
    const result = await apply(plan, source, journalDir)
    expect(result.conflicts.map((item) => [item.path, item.reason])).toEqual([
      ['src/a.ts', 'the host file changed after the plan was made; plan again'],
    ])
    expect(await readFile(path.join(project, 'src/a.ts'), 'utf8')).toBe('edited meanwhile\n')
  })
})

describe('undoSync', () => {
  it('restores the project byte-for-byte: contents, modes, symlinks, deleted and created files', async () => {
    const { project, journalDir, plan, source } = await richSync()
    const before = await snapshot(project)
    const result = await apply(plan, source, journalDir)
    expect(await snapshot(project)).not.toEqual(before)

    const { restored } = await undo(project, journalDir, result.id)

    expect(restored.sort()).toEqual(plan.items.map((item) => item.path).sort())
    expect(await snapshot(project)).toEqual(before)
    await expectError(undo(project, journalDir, result.id), 'USAGE', /already undone/)
  })

  it('refuses, naming the files and changing nothing, when the user edited them since', async () => {
    const { project, journalDir, plan, source } = await richSync()
    const result = await apply(plan, source, journalDir)
    await writeFile(path.join(project, 'src/a.ts'), 'user edit after sync\n')
    await writeFile(path.join(project, 'src/old.ts'), 'recreated by the user\n')
    const after = await snapshot(project)
    const error = await expectError(
      undo(project, journalDir, result.id),
      'SYNC_CONFLICT',
      /src\/a\.ts, src\/old\.ts changed in the project after sync/,
    )
    expect(isSafeCoderError(error) ? error.data?.paths : undefined).toEqual([
      'src/a.ts',
      'src/old.ts',
    ])
    expect(await snapshot(project)).toEqual(after)
  })

  it('reports an unknown id and a foreign project', async () => {
    const { project, journalDir, plan, source } = await richSync()
    const result = await apply(plan, source, journalDir)
    await expectError(undo(project, journalDir, 'sync-nope'), 'NOT_FOUND', /no sync sync-nope/)
    await expectError(undo(project, journalDir, '../x'), 'USAGE', /not a sync id/)
    const other = await tempDir()
    await expectError(undo(other, journalDir, result.id), 'USAGE', /not /)
  })

  it('gives sync ids that sort by time', async () => {
    const { project, journalDir, source, base } = await richSync()
    const first = await apply(
      await planSync({ projectDir: project, base, source }),
      source,
      journalDir,
    )
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = await apply(
      await planSync({ projectDir: project, base, source }),
      source,
      journalDir,
    )
    expect([second.id, first.id].sort()).toEqual([first.id, second.id])
  })
})

describe('an interrupted sync', () => {
  it('that fails half-way is rolled back before the error is thrown', async () => {
    const { project, journalDir, plan, source } = await richSync()
    const before = await snapshot(project)
    const error = await expectError(
      apply(plan, source, journalDir, (count) => {
        if (count === 3) throw new Error('disk on fire')
      }),
      'COPY_FAILED',
      /disk on fire.*restored as it was before/,
    )
    expect(isSafeCoderError(error) ? error.data?.rolledBack : undefined).toBe(true)
    expect(await snapshot(project)).toEqual(before)
  })

  it('that was killed half-way is refused by the next sync and rolled back by recoverSync, idempotently', async () => {
    const { project, journalDir, plan, source, base } = await richSync()
    const before = await snapshot(project)
    // A process killed after four writes: nothing after the hook ever runs, no catch, no rollback;
    // its lock goes with it.
    await killedAfter(plan, source, journalDir, 4)
    expect(await snapshot(project)).not.toEqual(before)

    await expectError(
      apply(await planSync({ projectDir: project, base, source }), source, journalDir),
      'SYNC_CONFLICT',
      /was interrupted half-way/,
    )
    const recovered = await recover(project, journalDir)
    expect(recovered).toEqual([
      { id: expect.stringMatching(/^sync-/) as unknown, journalDir: path.resolve(journalDir) },
    ])
    expect(await snapshot(project)).toEqual(before)
    expect(await recover(project, journalDir)).toEqual([])
    expect(await snapshot(project)).toEqual(before)
  })

  it('also rolls back leftover temp files and directories created before the kill', async () => {
    const { project, journalDir, plan, source } = await richSync()
    const before = await snapshot(project)
    const last = plan.items.filter((item) => item.action !== 'skip').length
    await killedAfter(plan, source, journalDir, last)
    const id = (await readdir(journalDir))[0] ?? ''
    await mkdir(path.join(project, 'src'), { recursive: true })
    await writeFile(path.join(project, 'src', `.${id}-1.tmp`), 'half written')
    await recover(project, journalDir)
    expect(await snapshot(project)).toEqual(before)
  })
})

describe('a project symlink the session replaced with a directory', () => {
  it('syncs the directory without reading behind the link, and undo brings the link back', async () => {
    const root = await tempDir('safe-coder-sync-link-')
    const project = path.join(root, 'project')
    const outside = path.join(root, 'outside')
    const journalDir = path.join(root, 'journal')
    await writeTree(outside, { 'secret.txt': 'host secret\n' })
    await writeTree(project, { 'a.txt': 'a\n' })
    await symlink('../outside', path.join(project, 'shared'))
    const base = await hostManifest(project)
    const before = await snapshot(project)
    const source = memorySource({
      'a.txt': 'a\n',
      'shared/secret.txt': 'pwned\n',
      'shared/new.txt': 'new\n',
    })
    const plan = await planSync({ projectDir: project, base, source })
    expect(plan.items.map((i) => `${i.action} ${i.path}`)).toEqual([
      'delete shared',
      'create shared/new.txt',
      'create shared/secret.txt',
    ])
    const result = await apply(plan, source, journalDir)
    expect(result.conflicts).toEqual([])
    expect((await lstat(path.join(project, 'shared'))).isDirectory()).toBe(true)
    expect(await readFile(path.join(project, 'shared/secret.txt'), 'utf8')).toBe('pwned\n')
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('host secret\n')
    // Nothing from behind the link was backed up into the journal.
    const backups = await readdir(path.join(journalDir, result.id ?? '', 'backup')).catch(() => [])
    for (const name of backups) {
      const text = await readFile(path.join(journalDir, result.id ?? '', 'backup', name), 'utf8')
      expect(text).not.toContain('host secret')
    }
    await undo(project, journalDir, result.id)
    expect(await snapshot(project)).toEqual(before)
  })
})

describe('folders a sync empties', () => {
  it('are removed, only when empty, and undo makes them again with their permissions', async () => {
    const project = await tempDir('safe-coder-sync-dirs-')
    const journalDir = path.join(await tempDir('safe-coder-sync-state-'), 'journal')
    await writeTree(project, {
      'gone/deep/x.txt': 'x\n',
      'gone/y.txt': 'y\n',
      'kept/z.txt': 'z\n',
      'busy/w.txt': 'w\n',
      'refilled/v.txt': 'v\n',
    })
    await chmod(path.join(project, 'gone/deep'), 0o700)
    await chmod(path.join(project, 'gone'), 0o750)
    const base = await hostManifest(project)
    // Not in the copy (ignored build output, say): its folder is not the sync's to remove.
    await writeFile(path.join(project, 'busy/build.log'), 'log\n')
    const before = await snapshot(project)
    const source = memorySource({ 'kept/z.txt': 'z\n', 'refilled/new.txt': 'new\n' })
    const plan = await planSync({ projectDir: project, base, source })
    const result = await apply(plan, source, journalDir)
    expect(result.conflicts).toEqual([])
    expect((await snapshot(project)).map((line) => line.split(' ')[0])).toEqual([
      'busy/',
      'busy/build.log',
      'kept/',
      'kept/z.txt',
      'refilled/',
      'refilled/new.txt',
    ])
    await undo(project, journalDir, result.id)
    expect(await snapshot(project)).toEqual(before)
  })
})

describe('a directory the session replaced with a file', () => {
  it('is emptied, removed and replaced, and a sync killed at any step rolls back exactly', async () => {
    for (const killAt of [1, 2, 3]) {
      const project = await tempDir('safe-coder-sync-swap-')
      const journalDir = path.join(await tempDir('safe-coder-sync-state-'), 'journal')
      await writeTree(project, { 'thing/x.txt': 'x\n', 'thing/y/z.txt': 'z\n', 'a.txt': 'a\n' })
      await chmod(path.join(project, 'thing'), 0o750)
      // An empty folder in it (no file of the copy): it goes with the directory, and comes back.
      await mkdir(path.join(project, 'thing/y/empty'), { mode: 0o700 })
      const base = await hostManifest(project)
      const before = await snapshot(project)
      const source = memorySource({ 'a.txt': 'a\n', thing: 'now a file\n' })
      const plan = await planSync({ projectDir: project, base, source })
      expect(plan.items.map((i) => `${i.action} ${i.path}`)).toEqual([
        'create thing',
        'delete thing/x.txt',
        'delete thing/y/z.txt',
      ])
      await killedAfter(plan, source, journalDir, killAt)
      if (killAt === 3)
        expect(await readFile(path.join(project, 'thing'), 'utf8')).toBe('now a file\n')
      await recover(project, journalDir)
      expect(await snapshot(project), `killed after write ${killAt}`).toEqual(before)
    }
  })
})

// Sync and undo work on many files at once: the same tree as one at a time, the same recovery.
describe('a sync of many files at once', () => {
  it('dir->file and file->dir of ancestors in one batch with many siblings round-trips', async () => {
    const project = await tempDir('rv-')
    const journalDir = path.join(await tempDir('rv-state-'), 'journal')
    const tree: Record<string, string> = { a: 'file a\n', 'b/c/d.txt': 'd\n', 'b/c/e.txt': 'e\n' }
    for (let i = 0; i < 80; i++) tree[`z/f${i}.txt`] = `${i}\n`
    await writeTree(project, tree)
    const base = await hostManifest(project)
    const before = await snapshot(project)
    const files: Record<string, SessionFile> = { 'a/b.txt': 'new\n', b: 'b now file\n' }
    for (let i = 0; i < 80; i++) files[`z/f${i}.txt`] = `${i} changed\n`
    for (let i = 0; i < 40; i++) files[`a/n/m${i}.txt`] = `${i}\n`
    const source = memorySource(files)
    const plan = await planSync({ projectDir: project, base, source })
    const result = await apply(plan, source, journalDir)
    expect(await readFile(path.join(project, 'b'), 'utf8')).toBe('b now file\n')
    expect(await readFile(path.join(project, 'a/n/m3.txt'), 'utf8')).toBe('3\n')
    await undo(project, journalDir, result.id)
    expect(await snapshot(project)).toEqual(before)
  })

  it('stands still after the write a test kills it at, as a killed process would', async () => {
    const project = await tempDir('rv-')
    const journalDir = path.join(await tempDir('rv-state-'), 'journal')
    const tree: Record<string, string> = {}
    for (let i = 0; i < 64; i++) tree[`f${i}.txt`] = `${i}\n`
    await writeTree(project, tree)
    const base = await hostManifest(project)
    const files: Record<string, SessionFile> = {}
    for (let i = 0; i < 64; i++) files[`f${i}.txt`] = `${i} changed\n`
    const source = memorySource(files)
    const plan = await planSync({ projectDir: project, base, source })
    let killed: () => void = () => undefined
    const died = new Promise<void>((resolve) => (killed = resolve))
    let calls = 0
    let callsAfterKill = 0
    let isDead = false
    const lock = await lockOf(project, journalDir)
    void apply(
      plan,
      source,
      journalDir,
      (count) => {
        calls++
        if (isDead) callsAfterKill++
        if (count < 4) return undefined
        isDead = true
        killed()
        return new Promise<void>(() => undefined)
      },
      lock,
    )
    await died
    await new Promise((r) => setTimeout(r, 500))
    // A real kill would leave 4 files written; the "dead" sync kept going.
    expect({ calls, callsAfterKill }).toEqual({ calls: 4, callsAfterKill: 0 })
  })

  it('rolls everything back when one file fails while others are in flight', async () => {
    const project = await tempDir('rv-')
    const journalDir = path.join(await tempDir('rv-state-'), 'journal')
    const tree: Record<string, string> = { 'ro/x.txt': 'x\n' }
    for (let i = 0; i < 64; i++) tree[`d${i % 8}/f${i}.txt`] = `${i}\n`
    await writeTree(project, tree)
    const base = await hostManifest(project)
    const files: Record<string, SessionFile> = { 'ro/x.txt': 'x changed\n' }
    for (let i = 0; i < 64; i++) files[`d${i % 8}/f${i}.txt`] = `${i} changed\n`
    for (let i = 0; i < 20; i++) files[`new${i}/deep/g.txt`] = `${i}\n`
    const source = memorySource(files)
    const plan = await planSync({ projectDir: project, base, source })
    const before = await snapshot(project)
    const failing: SyncSource = {
      entries: () => source.entries(),
      read: async (rel, entry) => {
        if (rel === 'd3/f11.txt') {
          await new Promise((r) => setTimeout(r, 5))
          throw Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' })
        }
        await new Promise((r) => setTimeout(r, Math.random() * 10))
        return source.read(rel, entry)
      },
    }
    const error = await expectError(
      apply(plan, failing, journalDir),
      'COPY_FAILED',
      /restored as it was before/,
    )
    expect(isSafeCoderError(error) ? error.data?.rolledBack : undefined).toBe(true)
    expect(await snapshot(project)).toEqual(before)
  })

  it('recovers when killed after making the folder that replaces a file, its temp file inside', async () => {
    const project = await tempDir('rv-')
    const journalDir = path.join(await tempDir('rv-state-'), 'journal')
    await writeTree(project, { a: 'file a\n', other: 'o\n' })
    const base = await hostManifest(project)
    const before = await snapshot(project)
    const source = memorySource({ 'a/b.txt': 'new\n', other: 'o\n' })
    const plan = await planSync({ projectDir: project, base, source })
    await killedAfter(plan, source, journalDir, 1)
    const id = (await readdir(journalDir))[0] ?? ''
    // What a kill between the write's mkdir/temp file and its rename leaves.
    await mkdir(path.join(project, 'a'), { recursive: true })
    await writeFile(path.join(project, 'a', `.${id}-1.tmp`), 'half written')
    const err = await recover(project, journalDir).then(
      () => 'ok',
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    )
    expect(err).toBe('ok')
    expect(await snapshot(project)).toEqual(before)
  })

  it('an ancestor replaced by a symlink after planning is never written through', async () => {
    const project = await tempDir('rv-')
    const outside = await tempDir('rv-out-')
    const journalDir = path.join(await tempDir('rv-state-'), 'journal')
    const tree: Record<string, string> = { 'd/x.txt': 'x\n' }
    for (let i = 0; i < 40; i++) tree[`e/f${i}.txt`] = `${i}\n`
    await writeTree(project, tree)
    const base = await hostManifest(project)
    const files: Record<string, SessionFile> = {
      'd/x.txt': 'x\n',
      'd/sub/new.txt': 'pwn\n',
      'd/new2.txt': 'pwn\n',
    }
    for (let i = 0; i < 40; i++) files[`e/f${i}.txt`] = `${i} changed\n`
    const source = memorySource(files)
    const plan = await planSync({ projectDir: project, base, source })
    const { rename } = await import('node:fs/promises')
    await rename(path.join(project, 'd'), path.join(outside, 'd'))
    await symlink(path.join(outside, 'd'), path.join(project, 'd'))
    await apply(plan, source, journalDir).catch(() => undefined)
    expect(await readdir(path.join(outside, 'd'))).toEqual(['x.txt'])
  })
})
