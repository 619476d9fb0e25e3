/**
 * Path confinement inside the sandbox: every path the host names is resolved component by
 * component with lstat, and a symlink on the way may not lead out of the root, not even for a
 * moment. The filesystem is shared with whatever the sandboxed commands do, so after opening a
 * file the agent also checks where the descriptor really points (/proc/self/fd).
 */

import { chownSync, lstatSync, mkdirSync, readlinkSync, realpathSync, type Stats } from 'node:fs'
import path from 'node:path/posix'
import type { ErrorCode } from './protocol.js'

/** A failure the agent reports to the host as `{ ok: false, code, message }`. */
export class AgentError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
  }
}

const MAX_LINKS = 40

export interface Root {
  /** As given on the command line (normally /workspace). */
  logical: string
  /** Its real path (symlinks resolved). */
  real: string
  /** Owner of the root directory: what the agent gives what it creates when it runs as root. */
  uid: number
  gid: number
}

export function openRoot(root: string): Root {
  const logical = path.resolve(root)
  const real = realpathSync(logical)
  const info = lstatSync(real)
  if (!info.isDirectory()) throw new Error(`the root ${root} is not a directory`)
  return { logical, real, uid: info.uid, gid: info.gid }
}

/**
 * Splits a root-relative path from the host into its names. '' is the root itself. Absolute
 * paths, '.', '..', empty names and NUL bytes are refused: the host sends normalised paths.
 */
/** Linux's limits: a whole path (with its NUL), and one name. */
const PATH_MAX = 4096
const NAME_MAX = 255

export function splitRelative(rel: unknown): string[] {
  if (typeof rel !== 'string') throw new AgentError('BAD_REQUEST', 'the path is not a string')
  if (rel === '') return []
  if (rel.includes('\0')) throw new AgentError('OUTSIDE', 'the path contains a NUL byte')
  const names = rel.split('/')
  for (const name of names) {
    if (name === '..') throw new AgentError('OUTSIDE', 'the path leads out of the root')
    if (name === '' || name === '.') {
      throw new AgentError('BAD_REQUEST', `the path ${JSON.stringify(rel)} is not normalised`)
    }
  }
  return names
}

export interface Resolved {
  /** Real absolute path of the last name (inside the root). */
  path: string
  /** lstat of it, undefined when it does not exist. */
  stat: Stats | undefined
}

export interface ResolveOptions {
  /** Follow a symlink in the last position too (read, list, cwd). */
  followLast: boolean
  /** Create missing directories on the way, the last one included (write's parents). */
  create?: boolean
}

/**
 * Resolves `names` under the root. Throws OUTSIDE when a symlink (or a `..` in a link's target)
 * leads out of the root, MISSING when a name before the last does not exist, NOT_DIR when one is
 * not a directory. The last name may be missing (stat undefined).
 */
export function resolveInside(root: Root, names: string[], options: ResolveOptions): Resolved {
  // What the kernel would refuse as one path, refused before anything is made on the way (a
  // write would otherwise create thousands of directories before the name gets too long).
  if (
    Buffer.byteLength(root.real) + 1 + Buffer.byteLength(names.join('/')) >= PATH_MAX ||
    names.some((name) => Buffer.byteLength(name) > NAME_MAX)
  ) {
    throw new AgentError('FAILED', 'ENAMETOOLONG: name too long')
  }
  const queue = [...names]
  let current = root.real
  let currentStat: Stats | undefined
  let links = 0
  while (queue.length > 0) {
    const name = queue.shift() as string
    if (name === '' || name === '.') continue
    if (name === '..') {
      if (current === root.real) {
        throw new AgentError('OUTSIDE', 'a symlink on the path leads out of the root')
      }
      current = path.dirname(current)
      currentStat = undefined
      continue
    }
    const next = current === '/' ? `/${name}` : `${current}/${name}`
    const last = queue.length === 0
    let info = lstatOrUndefined(next)
    if (info === undefined) {
      if (options.create === true) {
        makeDirectory(root, next)
        info = lstatSync(next)
      } else if (last) {
        return { path: next, stat: undefined }
      } else {
        throw new AgentError('MISSING', 'no such file or directory')
      }
    }
    if (info.isSymbolicLink() && (!last || options.followLast)) {
      if (++links > MAX_LINKS) throw new AgentError('MISSING', 'too many levels of symbolic links')
      const target = readlinkSync(next)
      if (target.startsWith('/')) {
        const rest = underRoot(root, target)
        if (rest === undefined) {
          throw new AgentError('OUTSIDE', 'a symlink on the path leads out of the root')
        }
        current = root.real
        queue.unshift(...rest.split('/'))
      } else {
        queue.unshift(...target.split('/'))
      }
      continue
    }
    if (!last && !info.isDirectory()) {
      throw new AgentError('NOT_DIR', 'a parent on the path is not a directory')
    }
    current = next
    currentStat = info
  }
  return { path: current, stat: currentStat ?? lstatOrUndefined(current) }
}

/** The part of an absolute link target below the root, or undefined when it points elsewhere. */
function underRoot(root: Root, target: string): string | undefined {
  for (const base of [root.real, root.logical]) {
    if (target === base) return ''
    if (target.startsWith(`${base}/`)) return target.slice(base.length + 1)
  }
  return undefined
}

function lstatOrUndefined(target: string): Stats | undefined {
  try {
    return lstatSync(target)
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT') return undefined
    if (code === 'ENOTDIR')
      throw new AgentError('NOT_DIR', 'a parent on the path is not a directory')
    throw failed(error)
  }
}

/** mkdir that leaves the directory to the root's owner when the agent runs as root. */
export function makeDirectory(root: Root, target: string): void {
  try {
    mkdirSync(target, 0o777)
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw failed(error)
    return
  }
  if (isRoot()) {
    try {
      chownSync(target, root.uid, root.gid)
    } catch {
      // Ownership is a courtesy to the sandbox user; the directory is usable either way.
    }
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0
}

/**
 * After open(): the real path the descriptor refers to must still be inside the root (a
 * component swapped for a symlink between the checks and the open would show here).
 */
export function assertFdInside(root: Root, fd: number): void {
  let actual: string
  try {
    actual = readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return // no /proc: the component-by-component checks are all there is
  }
  if (actual !== root.real && !actual.startsWith(`${root.real}/`)) {
    throw new AgentError('OUTSIDE', 'the path changed to lead out of the root while it was opened')
  }
}

export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = error.code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}

/** An errno failure as a FAILED error ("EACCES: permission denied"). */
export function failed(error: unknown): AgentError {
  if (error instanceof AgentError) return error
  const code = errnoOf(error)
  const message = error instanceof Error ? error.message : String(error)
  // Node's messages repeat the path; keep the errno part.
  const short = message.split(', ')[0] ?? message
  return new AgentError('FAILED', code === undefined ? message : short)
}
