import { lstat } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import type { Manifest, ManifestEntry, SyncSource } from '../shared/manifest.js'
import { blobOid, startBlobHash, symlinkMode } from './blob-oid.js'
import { displayPath } from './copy-errors.js'
import { syncFailed } from './sync-errors.js'
import { symlinkTargetProblem, symlinkTargetSteps } from './sync-paths.js'

// The session is hostile input: what it hands over must be the blob its manifest names.
export async function readSessionBytes(
  source: SyncSource,
  rel: string,
  entry: ManifestEntry,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const content = await source.read(rel, entry, signal)
  if (blobOid(content) !== entry.oid) throw notRecorded(rel, entry)
  return content
}

/** Larger session files are streamed from the history, never held whole. */
export const STREAM_ABOVE_BYTES = 8 * 1024 * 1024
/** How much of a streamed file the plan reads to tell text from binary. */
const HEAD_BYTES = 64 * 1024

/**
 * The first bytes of a large session file (undefined when the source cannot stream it), cut
 * before a UTF-8 sequence the cut would split, so text is not mistaken for binary.
 */
export async function sessionHead(
  source: SyncSource,
  rel: string,
  entry: ManifestEntry,
): Promise<Uint8Array | undefined> {
  const chunks = await source.stream?.(rel, entry)
  if (chunks === undefined) return undefined
  const parts: Uint8Array[] = []
  let size = 0
  for await (const chunk of chunks) {
    parts.push(chunk)
    size += chunk.byteLength
    if (size >= HEAD_BYTES) break
  }
  const head = Buffer.concat(parts).subarray(0, HEAD_BYTES)
  return head.length < entry.size ? withoutSplitCharacter(head) : head
}

/** `bytes` less a trailing UTF-8 sequence that is incomplete (the rest was cut off). */
function withoutSplitCharacter(bytes: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back] as number
    if ((byte & 0xc0) === 0x80) continue
    const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1
    return needs > back ? bytes.subarray(0, bytes.length - back) : bytes
  }
  return bytes
}

/**
 * A large regular file's bytes in chunks when the source can stream it (undefined otherwise),
 * hashed as they pass: the last step fails unless they were the blob its manifest names, so a
 * caller that writes to a temp file and renames only after the last chunk never lands others.
 */
export async function streamSessionBytes(
  source: SyncSource,
  rel: string,
  entry: ManifestEntry,
): Promise<AsyncIterable<Uint8Array> | undefined> {
  const chunks = await source.stream?.(rel, entry)
  if (chunks === undefined) return undefined
  return (async function* verified() {
    const hash = startBlobHash(entry.size)
    for await (const chunk of chunks) {
      hash.update(chunk)
      yield chunk
    }
    if (hash.digest('hex') !== entry.oid) throw notRecorded(rel, entry)
  })()
}

function notRecorded(rel: string, entry: ManifestEntry): SafeCoderError {
  return new SafeCoderError(
    'COPY_FAILED',
    `Sync failed: the session's ${displayPath(rel)} does not match its recorded id ${entry.oid}.`,
    {
      hint: 'The session history may be damaged; check it with `safe-coder log`.',
      data: { path: rel, oid: entry.oid },
    },
  )
}

/**
 * Why the session's symlink at `rel` could resolve outside the project: a target that is
 * absolute or climbs above the root, or one that passes through another symlink (in the
 * session or on the host), whose own target would decide where it ends up.
 */
export async function symlinkProblem(
  options: { projectDir: string; source: SyncSource; signal?: AbortSignal | undefined },
  session: Manifest,
  rel: string,
  entry: ManifestEntry,
): Promise<string | undefined> {
  const bytes = await readSessionBytes(options.source, rel, entry, options.signal)
  const target = Buffer.from(bytes).toString('utf8')
  if (!Buffer.from(target, 'utf8').equals(bytes)) return 'target is not valid UTF-8'
  const lexical = symlinkTargetProblem(rel, target)
  if (lexical !== undefined) return lexical
  for (const step of symlinkTargetSteps(rel, target)) {
    if (session[step]?.mode === symlinkMode || (await isHostSymlink(options.projectDir, step))) {
      return `target ${target} passes through the symlink ${step}`
    }
  }
  return undefined
}

async function isHostSymlink(projectDir: string, rel: string): Promise<boolean> {
  try {
    return (await lstat(path.join(projectDir, rel))).isSymbolicLink()
  } catch (error) {
    const errno = errnoOf(error)
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return false
    throw syncFailed(`cannot inspect ${rel} in the project`, error, { path: rel })
  }
}

/** Both sides changed the file: which way each went, for the plan. */
export function describeConflict(
  base: ManifestEntry | undefined,
  host: ManifestEntry | undefined,
  session: ManifestEntry | undefined,
): string {
  const hostSide =
    base === undefined
      ? 'created on the host'
      : host === undefined
        ? 'deleted on the host'
        : 'changed on the host'
  const sessionSide =
    session === undefined
      ? 'deleted in the session'
      : `${base === undefined ? 'created' : 'changed'} differently in the session`
  const tooLarge =
    base?.tooLarge === true
      ? ' (copy-in recorded it as too large, so host changes cannot be ruled out)'
      : ''
  return `${hostSide} since the copy${tooLarge}; ${sessionSide}`
}
