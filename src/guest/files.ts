/**
 * File operations confined to the root, with the semantics of the Docker backend's scripts
 * (src/sandbox/docker/file-scripts.ts): reads follow symlinks that stay inside, writes are
 * atomic (temp file + rename) and replace a symlink instead of writing through it, stat is
 * lstat, list does not follow links in the directory.
 */

import { randomBytes } from 'node:crypto'
import { constants, lstatSync, readdirSync, type Stats } from 'node:fs'
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import type { RequestContext } from './context.js'
import {
  AgentError,
  assertFdInside,
  failed,
  isRoot,
  resolveInside,
  splitRelative,
  type Root,
} from './paths.js'
import { FrameKind, JSON_CHUNK_BYTES, MAX_LIST_ENTRIES, type JsonObject } from './protocol.js'

const READ_CHUNK = 256 * 1024
/** Setuid and setgid never survive a write. */
const PERMISSION_MASK = 0o7777 & ~0o6000

function nonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new AgentError('BAD_REQUEST', `${what} must be a non-negative integer`)
  }
  return value
}

async function openRegular(root: Root, target: string, flags: number): Promise<FileHandle> {
  let handle: FileHandle
  try {
    handle = await open(target, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ENOENT') throw new AgentError('MISSING', 'no such file or directory')
    if (code === 'ELOOP') throw new AgentError('WRONG_KIND', 'not a regular file')
    throw failed(error)
  }
  try {
    assertFdInside(root, handle.fd)
    if (!(await handle.stat()).isFile()) throw new AgentError('WRONG_KIND', 'not a regular file')
  } catch (error) {
    await handle.close()
    throw error
  }
  return handle
}

/** `read`: file frames with at most maxBytes of the file, then `{ ok, size }`. */
export async function readOp(
  ctx: RequestContext,
  root: Root,
  request: JsonObject,
): Promise<object> {
  const names = splitRelative(request.path)
  const maxBytes = nonNegativeInteger(request.maxBytes, 'maxBytes')
  const { path, stat } = resolveInside(root, names, { followLast: true })
  if (stat === undefined) throw new AgentError('MISSING', 'no such file or directory')
  if (!stat.isFile()) throw new AgentError('WRONG_KIND', 'not a regular file')
  const handle = await openRegular(root, path, constants.O_RDONLY)
  let size = 0
  try {
    const chunk = Math.min(READ_CHUNK, ctx.maxFrame)
    while (size < maxBytes) {
      if (ctx.signal.aborted) throw new AgentError('CANCELLED', 'the read was cancelled')
      const buffer = Buffer.allocUnsafe(Math.min(chunk, maxBytes - size))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      size += bytesRead
      await ctx.send(FrameKind.file, buffer.subarray(0, bytesRead))
    }
  } catch (error) {
    throw failed(error)
  } finally {
    await handle.close()
  }
  return { ok: true, size }
}

/**
 * `write`: the request names the path, size and mode; file frames with the content follow,
 * then `end`. The content goes to a temp file next to the destination, renamed over it at the
 * end. Missing parents are created (inside the root only).
 */
export async function writeOp(
  ctx: RequestContext,
  root: Root,
  request: JsonObject,
): Promise<object> {
  const names = splitRelative(request.path)
  const size = nonNegativeInteger(request.size, 'size')
  const mode =
    request.mode === undefined || request.mode === null
      ? undefined
      : nonNegativeInteger(request.mode, 'mode') & PERMISSION_MASK
  const name = names.pop()
  if (name === undefined) throw new AgentError('WRONG_KIND', 'not a regular file')

  // Take the content as it comes, whatever happens to the path meanwhile.
  const content = collect(ctx, size)
  content.catch(() => undefined)

  const parent = resolveInside(root, names, { followLast: true, create: true })
  if (parent.stat?.isDirectory() !== true) {
    throw new AgentError('NOT_DIR', 'a parent on the path is not a directory')
  }
  const destination = `${parent.path}/${name}`
  let existing: Stats | undefined
  try {
    existing = lstatSync(destination)
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOENT') throw failed(error)
  }
  if (existing?.isDirectory() === true) throw new AgentError('WRONG_KIND', 'not a regular file')

  const temp = `${parent.path}/.safe-coder-write.${randomBytes(6).toString('hex')}`
  let handle: FileHandle
  try {
    handle = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o666,
    )
  } catch (error) {
    throw failed(error)
  }
  let renamed = false
  try {
    assertFdInside(root, handle.fd)
    for (const chunk of await content) {
      await handle.write(chunk)
    }
    const keep = existing?.isFile() === true ? existing : undefined
    const finalMode = mode ?? (keep === undefined ? undefined : keep.mode & PERMISSION_MASK)
    if (finalMode !== undefined) await handle.chmod(finalMode)
    if (isRoot()) {
      await handle.chown(keep?.uid ?? root.uid, keep?.gid ?? root.gid).catch(() => undefined)
    }
    await handle.close()
    await rename(temp, destination)
    renamed = true
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw failed(error)
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined)
  }
  return { ok: true }
}

/** Gathers the file frames of a write until `end`; rejects on a size mismatch or a cancel. */
function collect(ctx: RequestContext, size: number): Promise<Buffer[]> {
  return new Promise<Buffer[]>((resolve, reject) => {
    const chunks: Buffer[] = []
    let received = 0
    const onAbort = (): void => {
      reject(new AgentError('CANCELLED', 'the write was cancelled'))
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    ctx.onData = (kind, payload) => {
      if (kind !== FrameKind.file) return
      received += payload.length
      if (received > size) {
        reject(new AgentError('BAD_REQUEST', `more than the ${size} bytes announced`))
        return
      }
      chunks.push(payload)
    }
    ctx.onControl = (op) => {
      if (op === 'cancel') onAbort()
      if (op !== 'end') return
      ctx.signal.removeEventListener('abort', onAbort)
      if (received !== size) {
        reject(new AgentError('BAD_REQUEST', `${received} bytes sent, ${size} announced`))
      } else {
        resolve(chunks)
      }
    }
  })
}

/** `stat`: lstat of the path; its parent must resolve inside the root. */
export function statOp(root: Root, request: JsonObject): object {
  const names = splitRelative(request.path)
  const { stat } = resolveInside(root, names, { followLast: false })
  if (stat === undefined) throw new AgentError('MISSING', 'no such file or directory')
  return { ok: true, mode: stat.mode, size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) }
}

/**
 * `list`: the directory's entries as `[name, rawMode, size]`, lstat'ed (links not followed),
 * in chunks of `{ more: true, entries }`, the last in the final reply.
 */
export async function listOp(
  ctx: RequestContext,
  root: Root,
  request: JsonObject,
): Promise<object> {
  const names = splitRelative(request.path)
  const { path, stat } = resolveInside(root, names, { followLast: true })
  if (stat === undefined) throw new AgentError('MISSING', 'no such file or directory')
  if (!stat.isDirectory()) throw new AgentError('WRONG_KIND', 'not a directory')
  let raw: Buffer[]
  try {
    raw = readdirSync(path, { encoding: 'buffer' })
  } catch (error) {
    throw failed(error)
  }
  const prefix = Buffer.from(`${path}/`)
  const chunker = new JsonChunker(ctx, 'entries')
  const truncated = raw.length > MAX_LIST_ENTRIES
  for (const name of raw.slice(0, MAX_LIST_ENTRIES)) {
    let info: Stats
    try {
      info = lstatSync(Buffer.concat([prefix, name]))
    } catch {
      continue // gone meanwhile
    }
    await chunker.add([name.toString('utf8'), info.mode, info.size])
  }
  return { ok: true, ...chunker.rest(), ...(truncated ? { truncated } : {}) }
}

/**
 * Splits long lists across JSON frames: `{ more: true, <key>: [...] }` messages, the remainder
 * going into the final reply. Several keys may be chunked side by side.
 */
export class JsonChunker {
  private readonly lists = new Map<string, unknown[]>()
  private bytes = 0
  private readonly limit: number

  constructor(
    private readonly ctx: RequestContext,
    ...keys: string[]
  ) {
    for (const key of keys) this.lists.set(key, [])
    this.limit = Math.min(JSON_CHUNK_BYTES, Math.floor(ctx.maxFrame / 4))
  }

  async add(item: unknown, key = this.lists.keys().next().value as string): Promise<void> {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1
    if (this.bytes + size > this.limit && this.bytes > 0) await this.flush()
    this.lists.get(key)?.push(item)
    this.bytes += size
  }

  private async flush(): Promise<void> {
    const message: Record<string, unknown> = { more: true }
    for (const [key, list] of this.lists) {
      if (list.length > 0) message[key] = list.splice(0)
    }
    this.bytes = 0
    await this.ctx.sendJson(message)
  }

  /** What is left, for the final reply. */
  rest(): Record<string, unknown[]> {
    return Object.fromEntries(this.lists)
  }
}
