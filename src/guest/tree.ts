/**
 * `mark` and `changes`: a manifest of the root (lstat of every path, symlinks not followed) and
 * what differs from it now. Changed files come with the sha256 of their content, so the host
 * can verify what it pulls. Names that are not UTF-8 cannot be named in JSON: they are
 * reported as skipped, escaped, and not descended into.
 */

import { isUtf8 } from 'node:buffer'
import { readdirSync, readlinkSync } from 'node:fs'
import type { BigIntStats } from 'node:fs'
import { lstatSync } from 'node:fs'
import { hashRegularFile } from './file-read.js'
import { AgentError, type Root } from './paths.js'

type Kind = 'file' | 'dir' | 'symlink' | 'other'

interface Entry {
  kind: Kind
  /** Permission bits. */
  mode: number
  size: number
  mtimeNs: bigint
  ctimeNs: bigint
  ino: bigint
}

export type Change =
  | { path: string; kind: 'file'; mode: number; size: number; sha256: string }
  /** Over the host's cap: its size and mode only (the host records a "too large" placeholder). */
  | { path: string; kind: 'too-large'; mode: number; size: number }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'dir'; mode: number }
  | { path: string; kind: 'deleted' }

export interface Skipped {
  path: string
  reason: string
}

/** Names at the top of the root that are never reported (the ext4 workspace drive's). */
const IGNORED_AT_ROOT = new Set(['lost+found'])
/** Entries walked between two yields to the event loop (output of running commands flows). */
const YIELD_EVERY = 2000

function kindOf(stat: BigIntStats): Kind {
  if (stat.isFile()) return 'file'
  if (stat.isDirectory()) return 'dir'
  if (stat.isSymbolicLink()) return 'symlink'
  return 'other'
}

/** What a special file is: 'fifo', 'socket' or 'device' (special files are never copied out). */
function specialKind(abs: string): string {
  try {
    const stat = lstatSync(abs)
    if (stat.isFIFO()) return 'fifo'
    if (stat.isSocket()) return 'socket'
  } catch {
    // Gone meanwhile: it was special when it was listed.
  }
  return 'device'
}

function entryOf(stat: BigIntStats): Entry {
  return {
    kind: kindOf(stat),
    mode: Number(stat.mode & 0o7777n),
    size: Number(stat.size),
    mtimeNs: stat.mtimeNs,
    ctimeNs: stat.ctimeNs,
    ino: stat.ino,
  }
}

function same(a: Entry, b: Entry): boolean {
  return (
    a.kind === b.kind &&
    a.mode === b.mode &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.ino === b.ino
  )
}

/** A name for a path that is not UTF-8: printable ASCII kept, other bytes as \xNN. */
export function escapeName(bytes: Buffer): string {
  let out = ''
  for (const b of bytes) {
    out +=
      b >= 0x20 && b < 0x7f && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, '0')}`
  }
  return out
}

interface WalkVisitor {
  entry(rel: string, abs: string, stat: BigIntStats): void
  skip(rel: string, reason: string): void
  /** A path that could not be read: what it was (and held) is unknown, not deleted. */
  opaque(rel: string, reason: string): void
}

/** Walks the root depth-first, parents before children, never following a symlink. */
async function walk(root: Root, visitor: WalkVisitor): Promise<void> {
  const stack: string[] = ['']
  let sinceYield = 0
  while (stack.length > 0) {
    const dirRel = stack.pop() as string
    const dirAbs = dirRel === '' ? root.real : `${root.real}/${dirRel}`
    let names: Buffer[]
    try {
      names = readdirSync(dirAbs, { encoding: 'buffer' })
    } catch (error) {
      visitor.opaque(dirRel, describe(error))
      continue
    }
    names.sort((a, b) => Buffer.compare(a, b))
    const subdirs: string[] = []
    for (const raw of names) {
      if (!isUtf8(raw)) {
        const shown = dirRel === '' ? escapeName(raw) : `${dirRel}/${escapeName(raw)}`
        visitor.skip(shown, 'the name is not valid UTF-8')
        continue
      }
      const name = raw.toString('utf8')
      if (dirRel === '' && IGNORED_AT_ROOT.has(name)) continue
      const rel = dirRel === '' ? name : `${dirRel}/${name}`
      const abs = `${dirAbs}/${name}`
      let stat: BigIntStats | undefined
      try {
        stat = lstatSync(abs, { bigint: true, throwIfNoEntry: false })
      } catch (error) {
        // A directory readable but not searchable: what is there is unknown, not gone.
        visitor.opaque(rel, describe(error))
        continue
      }
      if (stat === undefined) continue // gone meanwhile
      visitor.entry(rel, abs, stat)
      if (stat.isDirectory()) subdirs.push(rel)
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i] as string)
  }
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? `unreadable (${code})` : 'unreadable'
}

/** The manifest of the root, and the comparisons against it. One walk at a time. */
export class Tree {
  private manifest: Map<string, Entry> | undefined
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly root: Root) {}

  /** Records the current state as the baseline for `changes`. */
  mark(): Promise<{ files: number }> {
    return this.serial(async () => {
      const next = new Map<string, Entry>()
      await walk(this.root, {
        entry: (rel, _abs, stat) => next.set(rel, entryOf(stat)),
        skip: () => undefined,
        opaque: () => undefined,
      })
      this.manifest = next
      return { files: next.size }
    })
  }

  /**
   * What changed since the last mark (everything, before the first), then re-marks. Files
   * larger than `maxFileBytes` are not hashed: reported as `too-large` (their size and mode)
   * when `reportTooLarge`, else skipped, as special files are.
   */
  changes(
    maxFileBytes: number,
    reportTooLarge = false,
  ): Promise<{ changes: Change[]; skipped: Skipped[]; files: number }> {
    return this.serial(async () => {
      const old = this.manifest ?? new Map<string, Entry>()
      const next = new Map<string, Entry>()
      const changes: Change[] = []
      const skipped: Skipped[] = []
      const opaque = new Set<string>()
      await walk(this.root, {
        entry: (rel, abs, stat) => {
          const entry = entryOf(stat)
          const previous = old.get(rel)
          next.set(rel, entry)
          if (previous !== undefined && same(previous, entry)) return
          const change = this.describeChange(
            rel,
            abs,
            entry,
            previous,
            maxFileBytes,
            reportTooLarge,
            skipped,
          )
          if (change !== undefined) changes.push(change)
        },
        skip: (rel, reason) => skipped.push({ path: rel, reason }),
        opaque: (rel, reason) => {
          if (rel === '') throw new AgentError('FAILED', `the root is ${reason}`)
          opaque.add(rel)
          skipped.push({ path: rel, reason })
        },
      })
      const belowOpaque = (rel: string): boolean => {
        if (opaque.size === 0) return false
        if (opaque.has(rel)) return true
        for (let at = rel.lastIndexOf('/'); at > 0; at = rel.lastIndexOf('/', at - 1)) {
          if (opaque.has(rel.slice(0, at))) return true
        }
        return false
      }
      for (const [rel, entry] of old) {
        if (next.has(rel)) continue
        if (belowOpaque(rel)) next.set(rel, entry)
        else changes.push({ path: rel, kind: 'deleted' })
      }
      this.manifest = next
      return { changes, skipped, files: next.size }
    })
  }

  private describeChange(
    rel: string,
    abs: string,
    entry: Entry,
    previous: Entry | undefined,
    maxFileBytes: number,
    reportTooLarge: boolean,
    skipped: Skipped[],
  ): Change | undefined {
    switch (entry.kind) {
      case 'dir':
        if (previous?.kind === 'dir' && previous.mode === entry.mode) return undefined
        return { path: rel, kind: 'dir', mode: entry.mode }
      case 'symlink': {
        let target: Buffer
        try {
          target = readlinkSync(abs, { encoding: 'buffer' })
        } catch (error) {
          skipped.push({ path: rel, reason: describe(error) })
          return undefined
        }
        if (!isUtf8(target)) {
          skipped.push({ path: rel, reason: 'the link target is not valid UTF-8' })
          return undefined
        }
        return { path: rel, kind: 'symlink', target: target.toString('utf8') }
      }
      case 'file': {
        const tooLarge = (): Change | undefined => {
          if (reportTooLarge)
            return { path: rel, kind: 'too-large', mode: entry.mode, size: entry.size }
          skipped.push({ path: rel, reason: `larger than ${maxFileBytes} bytes` })
          return undefined
        }
        if (entry.size > maxFileBytes) return tooLarge()
        let file: ReturnType<typeof hashRegularFile>
        try {
          file = hashRegularFile(this.root, abs, maxFileBytes)
        } catch (error) {
          skipped.push({
            path: rel,
            reason: error instanceof AgentError ? error.message : describe(error),
          })
          return undefined
        }
        if (file === undefined) return tooLarge()
        return { path: rel, kind: 'file', mode: file.mode, size: file.size, sha256: file.sha256 }
      }
      case 'other':
        if (previous?.kind === 'other') return undefined
        // The host's words for these (its mirror walk's), so both backends report them alike.
        skipped.push({ path: rel, reason: specialKind(abs) })
        return undefined
    }
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => undefined)
    return run
  }
}
