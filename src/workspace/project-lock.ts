import { createHash, randomBytes } from 'node:crypto'
import { watch } from 'node:fs'
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { throwIfAborted } from '../shared/abort.js'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import { writeFileAtomic } from '../shared/durable-file.js'
import { isProcessAlive } from '../shared/process-alive.js'
import { syncFailed } from './sync-errors.js'

/** Held while a sync plans, applies, undoes or recovers: one at a time per project. */
export interface ProjectLock {
  /** Real path of the project. */
  readonly projectDir: string
  /** The project's shared sync state (`<root>/<key>/`): the lock and the syncs under way. */
  readonly stateDir: string
  readonly held: boolean
  /** Idempotent. */
  release(): Promise<void>
}

export interface LockProjectOptions {
  /** Folder of every project's shared sync state, e.g. `$XDG_STATE_HOME/safe-coder/projects`. */
  root: string
  /** Real path of the project (callers resolve it: the lock is per real path). */
  projectDir: string
  /** Who takes it, as another sync's message shows it: `session s-… (sync)`. */
  holder: string
  /** How long to wait for another holder, in ms; 0 refuses at once. */
  waitMs: number
  signal?: AbortSignal
  /** Called once, when the lock is held by someone else and the wait starts. */
  onWait?: (holder: string) => void
}

/** What an owner file says. */
interface Owner {
  pid: number
  host: string
  holder: string
  since: string
  released?: boolean
}

/** How often a waiter looks again when no change wakes it (a dead holder changes no file). */
const pollMs = 200

/**
 * The per-project lock, across processes. Owners are files `owner.<n>`, `n` rising: the highest
 * is the current one. Taking the lock means creating the next number with `link()` (atomic,
 * fails when it exists) once the current one is released or its process is gone — so a
 * crashed holder never blocks, and two processes taking over a stale lock cannot both win: no
 * file is ever deleted to take over, only older numbers are pruned by the winner, and a
 * claimant that finds a higher number after its own lost. Holders on another host (a shared
 * state dir) are never judged dead: they are waited for, then named.
 *
 * @throws SafeCoderError SYNC_CONFLICT (`data.busy`: still held when the wait ran out),
 * COPY_FAILED (the state dir is not writable), ABORTED.
 */
export async function lockProject(options: LockProjectOptions): Promise<ProjectLock> {
  const stateDir = projectStateDir(options.root, options.projectDir)
  const lockDir = path.join(stateDir, 'lock')
  try {
    await mkdir(lockDir, { recursive: true, mode: 0o700 })
    // Which project the hashed folder is for, for a human looking at it.
    await writeFile(path.join(stateDir, 'project'), `${options.projectDir}\n`, {
      mode: 0o600,
      flag: 'wx',
    }).catch((error: unknown) => {
      if (errnoOf(error) !== 'EEXIST') throw error
    })
  } catch (error) {
    throw syncFailed(`cannot create the project's lock in ${stateDir}`, error)
  }
  const owner: Owner = {
    pid: process.pid,
    host: os.hostname(),
    holder: options.holder,
    since: new Date().toISOString(),
  }
  const deadline = Date.now() + options.waitMs
  let waiting = false
  for (;;) {
    throwIfAborted(options.signal, 'Waiting for the project lock')
    const top = (await generations(lockDir)).at(-1) ?? 0
    const current = top === 0 ? undefined : await readOwner(lockDir, top)
    if (current === 'gone') continue
    if (current === undefined || current.released === true || isDead(current)) {
      const mine = top + 1
      if (await claim(lockDir, mine, owner)) {
        const newest = (await generations(lockDir)).at(-1)
        if (newest === mine) {
          await prune(lockDir, mine)
          return heldLock(options.projectDir, stateDir, lockDir, mine, owner)
        }
        // Ours was a number already used and pruned while we looked: a later owner exists.
        await rm(ownerFile(lockDir, mine), { force: true })
      }
      continue
    }
    const left = deadline - Date.now()
    if (left <= 0) throw busy(options.projectDir, current)
    if (!waiting) {
      waiting = true
      options.onWait?.(describe(current))
    }
    await waitForChange(lockDir, Math.min(pollMs, left), options.signal)
  }
}

/** `<root>/<sha256 of the real path>`: one folder per project, whatever the session. */
export function projectStateDir(root: string, projectDir: string): string {
  const key = createHash('sha256').update(projectDir).digest('hex').slice(0, 32)
  return path.join(root, key)
}

function heldLock(
  projectDir: string,
  stateDir: string,
  lockDir: string,
  generation: number,
  owner: Owner,
): ProjectLock {
  let held = true
  return {
    projectDir,
    stateDir,
    get held() {
      return held
    },
    async release() {
      if (!held) return
      held = false
      await writeFileAtomic(
        ownerFile(lockDir, generation),
        JSON.stringify({ ...owner, released: true }),
      )
    },
  }
}

function ownerFile(lockDir: string, generation: number): string {
  return path.join(lockDir, `owner.${generation}`)
}

/** Owner numbers present, ascending. */
async function generations(lockDir: string): Promise<number[]> {
  const numbers: number[] = []
  for (const name of await readdir(lockDir)) {
    const match = /^owner\.([1-9][0-9]{0,14})$/.exec(name)
    if (match?.[1] !== undefined) numbers.push(Number(match[1]))
  }
  return numbers.sort((a, b) => a - b)
}

/** The owner file `n`: `gone` when pruned meanwhile; unreadable garbage counts as released. */
async function readOwner(lockDir: string, n: number): Promise<Owner | 'gone' | undefined> {
  let text: string
  try {
    text = await readFile(ownerFile(lockDir, n), 'utf8')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return 'gone'
    throw syncFailed(`cannot read the project lock in ${lockDir}`, error)
  }
  try {
    const parsed = JSON.parse(text) as Partial<Owner>
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return {
        pid: parsed.pid,
        host: parsed.host,
        holder: typeof parsed.holder === 'string' ? parsed.holder : 'another sync',
        since: typeof parsed.since === 'string' ? parsed.since : '?',
        ...(parsed.released === true ? { released: true } : {}),
      }
    }
  } catch {
    // Written whole by link() or rename, so never half-written: garbage, not a live owner.
  }
  return undefined
}

function isDead(owner: Owner): boolean {
  return owner.host === os.hostname() && !isProcessAlive(owner.pid)
}

/** Creates owner file `n` whole (temp file, then link): false when another process got it. */
async function claim(lockDir: string, n: number, owner: Owner): Promise<boolean> {
  const temp = path.join(lockDir, `.claim-${process.pid}-${randomBytes(6).toString('hex')}`)
  await writeFileAtomic(temp, JSON.stringify(owner))
  try {
    await link(temp, ownerFile(lockDir, n))
    return true
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false
    throw syncFailed(`cannot take the project lock in ${lockDir}`, error)
  } finally {
    await rm(temp, { force: true })
  }
}

/** Older owner files: nobody can claim their numbers again, since a higher one exists. */
async function prune(lockDir: string, mine: number): Promise<void> {
  for (const n of await generations(lockDir)) {
    if (n < mine) await rm(ownerFile(lockDir, n), { force: true })
  }
}

function describe(owner: Owner): string {
  const where = owner.host === os.hostname() ? '' : ` on ${owner.host}`
  return `${owner.holder} (safe-coder process ${owner.pid}${where}, since ${owner.since})`
}

function busy(projectDir: string, owner: Owner): SafeCoderError {
  return new SafeCoderError(
    'SYNC_CONFLICT',
    `Project ${projectDir} is being synced by ${describe(owner)}.`,
    {
      hint: 'Wait for that sync to finish (or raise --wait), then sync again; syncs of one project run one at a time so none overwrites another.',
      data: { busy: true, projectDir, ownerPid: owner.pid, ownerHost: owner.host },
    },
  )
}

/** Resolves when the lock folder changes, after `ms` at most, or when the signal fires. */
function waitForChange(dir: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    let watcher: ReturnType<typeof watch> | undefined
    const done = (): void => {
      clearTimeout(timer)
      watcher?.close()
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    try {
      watcher = watch(dir, done)
      watcher.on('error', done)
    } catch {
      // No watcher (a filesystem without notifications): the timer alone wakes us.
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
