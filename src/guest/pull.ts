/**
 * `pull`: streams the named files, one at a time, each as a `{ more: true, file: header }`
 * message (path, mode, size, sha256) followed by `size` bytes of file frames. With `stream: true`
 * (the `stream-pull` feature) a file is never held whole: the header has no sha256, the bytes
 * are read and sent in chunks, and `{ more: true, fileEnd: { sha256 } }` follows them — or
 * `fileEnd: { changed: true }` after fewer bytes, when the file shrank meanwhile. The host
 * acknowledges each file once it consumed it; at most PULL_WINDOW_BYTES go unacknowledged.
 * Paths are resolved without following any symlink: a path whose parent is no longer a real
 * directory, or that is no longer a regular file, is reported missing.
 */

import { createHash } from 'node:crypto'
import { closeSync, lstatSync, read } from 'node:fs'
import { promisify } from 'node:util'
import type { RequestContext } from './context.js'
import { CHUNK_BYTES, openRegular } from './file-read.js'
import { AgentError, splitRelative, type Root } from './paths.js'
import { FrameKind, MAX_PULL_FILE_BYTES, type JsonObject } from './protocol.js'

const readAsync = promisify(read)

const PULL_WINDOW_BYTES = 8 * 1024 * 1024
const DATA_CHUNK = 256 * 1024

export async function pullOp(
  ctx: RequestContext,
  root: Root,
  request: JsonObject,
): Promise<object> {
  const { paths } = request
  if (!Array.isArray(paths) || !paths.every((p): p is string => typeof p === 'string')) {
    throw new AgentError('BAD_REQUEST', 'paths must be a list of strings')
  }
  const max =
    typeof request.maxFileBytes === 'number' && Number.isSafeInteger(request.maxFileBytes)
      ? Math.max(0, request.maxFileBytes)
      : MAX_PULL_FILE_BYTES
  const missing: string[] = []
  const tooLarge: { path: string; size: number }[] = []

  // Flow control: sizes of the files sent and not yet acknowledged.
  const unacked: number[] = []
  let unackedBytes = 0
  let wake: (() => void) | undefined
  ctx.onControl = (op) => {
    if (op === 'ack') {
      unackedBytes -= unacked.shift() ?? 0
      wake?.()
    }
  }
  const aborted = (): boolean => ctx.signal.aborted
  const onAbort = (): void => wake?.()
  ctx.signal.addEventListener('abort', onAbort)
  try {
    for (const rel of paths) {
      if (ctx.signal.aborted) throw new AgentError('CANCELLED', 'the pull was cancelled')
      const names = splitRelative(rel)
      const abs = regularFileAt(root, names)
      if (abs === undefined) {
        missing.push(rel)
        continue
      }
      while (unackedBytes > PULL_WINDOW_BYTES && !aborted()) {
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
      }
      let sent: number | 'missing' | 'too-large'
      try {
        sent = await sendFile(ctx, root, { rel, abs }, max, request.stream === true)
      } catch (error) {
        if (error instanceof AgentError) sent = 'missing'
        else throw error
      }
      if (sent === 'missing') missing.push(rel)
      else if (sent === 'too-large') {
        tooLarge.push({ path: rel, size: lstatSync(abs, { throwIfNoEntry: false })?.size ?? 0 })
      } else {
        unacked.push(sent)
        unackedBytes += sent
      }
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
  }
  return { ok: true, missing, tooLarge }
}

/**
 * Sends one file: in chunks with its sha256 after them (`stream`), or — for hosts without
 * `stream-pull`, whose caps are small — read whole first, with its sha256 in the header.
 * Returns the bytes sent.
 */
async function sendFile(
  ctx: RequestContext,
  root: Root,
  paths: { rel: string; abs: string },
  max: number,
  stream: boolean,
): Promise<number | 'missing' | 'too-large'> {
  let opened: ReturnType<typeof openRegular>
  try {
    opened = openRegular(root, paths.abs)
  } catch {
    return 'missing'
  }
  const { fd, stat } = opened
  try {
    if (stat.size > max) return 'too-large'
    const mode = stat.mode & 0o7777
    const chunk = Math.min(DATA_CHUNK, ctx.maxFrame, CHUNK_BYTES)
    if (!stream) {
      const data = await readAt(fd, 0, stat.size)
      const sha256 = createHash('sha256').update(data).digest('hex')
      await ctx.sendJson({ more: true, file: { path: paths.rel, mode, size: data.length, sha256 } })
      for (let at = 0; at < data.length; at += chunk) {
        await ctx.send(FrameKind.file, data.subarray(at, at + chunk))
      }
      return data.length
    }
    await ctx.sendJson({ more: true, file: { path: paths.rel, mode, size: stat.size } })
    const hash = createHash('sha256')
    let sent = 0
    while (sent < stat.size) {
      const data = await readAt(fd, sent, Math.min(chunk, stat.size - sent))
      if (data.length === 0) break
      hash.update(data)
      await ctx.send(FrameKind.file, data)
      sent += data.length
    }
    await ctx.sendJson({
      more: true,
      fileEnd: sent === stat.size ? { sha256: hash.digest('hex') } : { changed: true },
    })
    return sent
  } finally {
    closeSync(fd)
  }
}

/** Up to `length` bytes from `position`, read 1 MiB at a time (fewer at the end of the file). */
async function readAt(fd: number, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const want = Math.min(CHUNK_BYTES, length - filled)
    const { bytesRead } = await readAsync(fd, buffer, filled, want, position + filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return buffer.subarray(0, filled)
}

/** The absolute path when every parent is a real directory and the last a regular file. */
function regularFileAt(root: Root, names: string[]): string | undefined {
  if (names.length === 0) return undefined
  let current = root.real
  for (let i = 0; i < names.length; i++) {
    current = `${current}/${names[i] as string}`
    const stat = lstatSync(current, { throwIfNoEntry: false })
    if (stat === undefined) return undefined
    if (i < names.length - 1 ? !stat.isDirectory() : !stat.isFile()) return undefined
  }
  return current
}
