import { lstat, readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { expect } from 'vitest'
import type { CaseContext } from './cases.js'
import { sha256 } from './hash.js'
import { show, type SessionRow, type World } from './world.js'

/**
 * The files of a session's HEAD commit (path → sha256 and executable bit), read with git itself
 * from the audit repository: what a sync must bring to the project, exactly.
 */
export async function committedFiles(world: World, id: string): Promise<Map<string, string>> {
  const gitdir = path.join(world.sessionsDir, id, 'audit.git')
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: world.home,
    GIT_CONFIG_NOSYSTEM: '1',
  }
  const base = ['-c', 'core.hooksPath=/dev/null', '--git-dir', gitdir]
  const listing = await execa('git', [...base, 'ls-tree', '-r', '-z', 'HEAD'], {
    env,
    extendEnv: false,
    maxBuffer: 1024 ** 3,
  })
  const wanted: { file: string; mode: string; oid: string }[] = []
  for (const entry of listing.stdout.split('\0')) {
    if (entry === '') continue
    const [meta, file] = entry.split('\t')
    const [mode, type, oid] = (meta ?? '').split(' ')
    if (type !== 'blob' || file === undefined || oid === undefined) continue
    if (mode !== '100644' && mode !== '100755') continue
    wanted.push({ file, mode, oid })
  }
  // One `git cat-file --batch` for every blob: "<oid> blob <size>\n<content>\n" each.
  const batch = await execa('git', [...base, 'cat-file', '--batch'], {
    env,
    extendEnv: false,
    input: wanted.map((w) => w.oid).join('\n') + '\n',
    encoding: 'buffer',
    stripFinalNewline: false,
    maxBuffer: 4 * 1024 ** 3,
  })
  const out = new Map<string, string>()
  const data = Buffer.from(batch.stdout)
  let at = 0
  for (const w of wanted) {
    const eol = data.indexOf(10, at)
    const header = data.subarray(at, eol).toString('latin1').split(' ')
    const size = Number(header[2])
    const content = data.subarray(eol + 1, eol + 1 + size)
    at = eol + 1 + size + 1
    out.set(w.file, `${w.mode === '100755' ? 'x' : '-'} ${sha256(content)}`)
  }
  return out
}

/** The project's regular files in the same form (skipping .git). */
export async function projectFiles(root: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const name of await readdir(path.join(root, rel))) {
    const p = rel === '' ? name : `${rel}/${name}`
    if (name === '.git') continue
    const info = await lstat(path.join(root, p))
    if (info.isDirectory()) for (const [k, v] of await projectFiles(root, p)) out.set(k, v)
    else if (info.isFile())
      out.set(p, `${info.mode & 0o100 ? 'x' : '-'} ${sha256(await readFile(path.join(root, p)))}`)
  }
  return out
}

/** The session's row in `sessions --json`. */
export async function sessionRow(world: World, id: string): Promise<SessionRow> {
  const listed = await world.sessions()
  const row = listed.sessions.find((s) => s.id === id)
  if (row === undefined) throw new Error(`session ${id} is not listed: ${JSON.stringify(listed)}`)
  return row
}

/**
 * What every fault case checks afterwards: `sessions` tells the truth (not active, the commit
 * count the history holds), `resume` works (or says why not, clearly), `sync` applies exactly
 * the committed work, and `gc` leaves nothing running (the host checks of the case follow).
 */
export async function afterFault(
  world: World,
  c: CaseContext,
  id: string,
  options: { commits?: number; resume?: 'works' | 'refuses'; sync?: boolean } = {},
): Promise<void> {
  const row = await sessionRow(world, id)
  expect(row.status, `sessions says ${id} is ${row.status}`).not.toBe('active')
  if (options.commits !== undefined)
    expect(row.commits, 'commits in `sessions`').toBe(options.commits)
  const resume = await world.cli(['resume', id])
  expect(resume.stderr).not.toMatch(/^\s+at .+[:(]/m)
  if (options.resume !== 'refuses') expect(resume.exitCode, show(resume)).toBe(0)
  const resumed = (resume.stdout + resume.stderr).split('\n').filter((l) => l.trim() !== '')
  c.note(
    `resume: ${resumed
      .map((l) => l.replace(/^safe-coder: /, '').trim())
      .join(' ')
      .slice(0, 120)}`,
  )
  if (options.resume !== 'refuses') {
    // After a resume nothing the mirror holds is left unrecorded.
    const committed = await committedFiles(world, id)
    const mirror = await projectFiles(world.workDir(id))
    expect(Object.fromEntries(mirror), 'the mirror after resume = the session HEAD').toEqual(
      Object.fromEntries(committed),
    )
  }
  if (options.sync !== false) {
    const committed = await committedFiles(world, id)
    const sync = await world.cli(['sync', id, '--yes'])
    expect(sync.exitCode, show(sync)).toBe(0)
    const synced = await projectFiles(world.project)
    expect(
      Object.fromEntries(synced),
      'the project after sync = the session HEAD, exactly',
    ).toEqual(Object.fromEntries(committed))
    await world.rebaseProject()
  }
  const gc = await world.gc()
  expect(gc.exitCode, show(gc)).toBe(0)
}
