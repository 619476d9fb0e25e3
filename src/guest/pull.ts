/**
 * `pull`: streams the named files, one at a time, each as a `{ more: true, file: header }`
 * message (path, mode, size, sha256) followed by `size` bytes of file frames. The host
 * acknowledges each file once it consumed it; at most PULL_WINDOW_BYTES go unacknowledged.
 * Paths are resolved without following any symlink: a path whose parent is no longer a real
 * directory, or that is no longer a regular file, is reported missing.
 */

import { lstatSync } from 'node:fs'
import type { RequestContext } from './context.js'
import { AgentError, splitRelative, type Root } from './paths.js'
import { FrameKind, MAX_PULL_FILE_BYTES, type JsonObject } from './protocol.js'
import { readRegularFile, sha256 } from './tree.js'

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
      let file: ReturnType<typeof readRegularFile>
      try {
        file = readRegularFile(root, abs, max)
      } catch {
        missing.push(rel)
        continue
      }
      if (file === undefined) {
        tooLarge.push({ path: rel, size: lstatSync(abs, { throwIfNoEntry: false })?.size ?? 0 })
        continue
      }
      while (unackedBytes > PULL_WINDOW_BYTES && !aborted()) {
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
      }
      const { data } = file
      await ctx.sendJson({
        more: true,
        file: { path: rel, mode: file.mode, size: data.length, sha256: sha256(data) },
      })
      const chunk = Math.min(DATA_CHUNK, ctx.maxFrame)
      for (let at = 0; at < data.length; at += chunk) {
        await ctx.send(FrameKind.file, data.subarray(at, at + chunk))
      }
      unacked.push(data.length)
      unackedBytes += data.length
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
  }
  return { ok: true, missing, tooLarge }
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
