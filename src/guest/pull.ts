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
import { readRegularFile, sha256 } from './tree.js'

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
        sent =
          request.stream === true
            ? await streamFile(ctx, root, rel, abs, max)
            : await sendWhole(ctx, root, rel, abs, max)
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

/** The file read whole, with its sha256 in the header (hosts without `stream-pull`). */
async function sendWhole(
  ctx: RequestContext,
  root: Root,
  rel: string,
  abs: string,
  max: number,
): Promise<number | 'missing' | 'too-large'> {
  let file: ReturnType<typeof readRegularFile>
  try {
    file = readRegularFile(root, abs, max)
  } catch {
    return 'missing'
  }
  if (file === undefined) return 'too-large'
  const { data } = file
  await ctx.sendJson({
    more: true,
    file: { path: rel, mode: file.mode, size: data.length, sha256: sha256(data) },
  })
  const chunk = Math.min(DATA_CHUNK, ctx.maxFrame)
  for (let at = 0; at < data.length; at += chunk) {
    await ctx.send(FrameKind.file, data.subarray(at, at + chunk))
  }
  return data.length
}

/** The file in chunks as read, its sha256 after them (`stream: true`). */
async function streamFile(
  ctx: RequestContext,
  root: Root,
  rel: string,
  abs: string,
  max: number,
): Promise<number | 'missing' | 'too-large'> {
  let opened: ReturnType<typeof openRegular>
  try {
    opened = openRegular(root, abs)
  } catch {
    return 'missing'
  }
  const { fd, stat } = opened
  try {
    if (stat.size > max) return 'too-large'
    await ctx.sendJson({
      more: true,
      file: { path: rel, mode: stat.mode & 0o7777, size: stat.size },
    })
    const hash = createHash('sha256')
    const chunk = Math.min(DATA_CHUNK, ctx.maxFrame, CHUNK_BYTES)
    let sent = 0
    while (sent < stat.size) {
      const buffer = Buffer.allocUnsafe(Math.min(chunk, stat.size - sent))
      const { bytesRead } = await readAsync(fd, buffer, 0, buffer.length, sent)
      if (bytesRead === 0) break
      const data = buffer.subarray(0, bytesRead)
      hash.update(data)
      await ctx.send(FrameKind.file, data)
      sent += bytesRead
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
