/**
 * A second thread for the scan's `lstat` calls. After a shell command every file of the mirror
 * is `lstat`ed (the stat cache decides what to read); on two or more cores half of those calls
 * run here while the main thread does the other half, as git's preloaded index refresh does.
 *
 * The helper only answers "what are this path's stat key fields": a path whose answer differs
 * from the cache, or that it could not stat, is `lstat`ed again on the main thread, which makes
 * every other decision; when the helper cannot start or stops, the main thread stats alone.
 */
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import type { StatKey } from './mirror-entry.js'

/** Fields per path in a reply: mode, size, mtimeMs, ctimeMs, ino. */
export const STAT_FIELDS = 5
/** A reply's `mode` for a path that does not exist. */
export const STAT_MISSING = -1
/** A reply's `mode` for a path the helper could not stat (the main thread will say why). */
export const STAT_FAILED = -2

/** True when the helper's answer for path `index` is exactly the stat `was` (as `sameStat`). */
export function answerMatches(
  answers: Float64Array,
  index: number,
  was: StatKey | undefined,
): boolean {
  const at = index * STAT_FIELDS
  return (
    was !== undefined &&
    answers[at] === was.mode &&
    answers[at + 1] === was.size &&
    answers[at + 2] === was.mtimeMs &&
    answers[at + 3] === was.ctimeMs &&
    answers[at + 4] === was.ino
  )
}

// CommonJS, evaluated: the same source runs from dist/ and under the test runner's loader.
const source = `
const { parentPort } = require('node:worker_threads')
const { lstatSync } = require('node:fs')
parentPort.on('message', ({ id, prefix, joined }) => {
  const paths = joined.split('\\0')
  const out = new Float64Array(paths.length * ${STAT_FIELDS})
  for (let i = 0; i < paths.length; i++) {
    const at = i * ${STAT_FIELDS}
    let s
    try {
      s = lstatSync(prefix + paths[i], { throwIfNoEntry: false })
    } catch {
      out[at] = ${STAT_FAILED}
      continue
    }
    if (s === undefined) {
      out[at] = ${STAT_MISSING}
      continue
    }
    out[at] = s.mode
    out[at + 1] = s.size
    out[at + 2] = s.mtimeMs
    out[at + 3] = s.ctimeMs
    out[at + 4] = s.ino
  }
  parentPort.postMessage({ id, out }, [out.buffer])
})
`

interface Pending {
  resolve: (out: Float64Array) => void
  reject: (error: Error) => void
}

let helper: { worker: Worker; online: boolean; pending: Map<number, Pending> } | undefined
let broken = false
let nextId = 0
let answered = 0

/** Paths the helper has answered in this process (tests prove it is used). */
export function statHelperAnswered(): number {
  return answered
}

/** Whether a second thread can help at all (one core: it would only add overhead). */
export function statHelperUseful(): boolean {
  return !broken && os.availableParallelism() > 1
}

/**
 * Starts the helper if needed; true once it is running and ready for work. The first scan of a
 * process does its first batch alone while the thread starts.
 */
export function statHelperReady(): boolean {
  if (!statHelperUseful()) return false
  if (helper === undefined) start()
  return helper?.online === true
}

function start(): void {
  let worker: Worker
  try {
    worker = new Worker(source, { eval: true, name: 'safe-coder-stat' })
  } catch {
    broken = true
    return
  }
  const started = { worker, online: false, pending: new Map<number, Pending>() }
  helper = started
  // Keeps the process alive only while a reply is awaited (a promise alone would not).
  worker.unref()
  worker.once('online', () => {
    started.online = true
  })
  worker.on('message', (message: { id: number; out: Float64Array }) => {
    const waiting = started.pending.get(message.id)
    started.pending.delete(message.id)
    if (started.pending.size === 0) worker.unref()
    answered += message.out.length / STAT_FIELDS
    waiting?.resolve(message.out)
  })
  const fail = (error: Error): void => {
    broken = true
    if (helper === started) helper = undefined
    for (const waiting of started.pending.values()) waiting.reject(error)
    started.pending.clear()
  }
  worker.on('error', fail)
  worker.on('exit', (code) => {
    fail(new Error(`the stat helper thread exited (code ${code})`))
  })
}

/**
 * The stat key fields of `prefix + path` for each path, `STAT_FIELDS` numbers per path. Rejects
 * if the helper is not running or stops; callers then stat on their own thread.
 */
export function statOnHelper(prefix: string, paths: readonly string[]): Promise<Float64Array> {
  const running = helper
  if (running?.online !== true) {
    return Promise.reject(new Error('the stat helper thread is not running'))
  }
  const id = nextId++
  return new Promise<Float64Array>((resolve, reject) => {
    if (running.pending.size === 0) running.worker.ref()
    running.pending.set(id, { resolve, reject })
    // Names hold no NUL (the walk refuses them), so one joined string is one cheap copy.
    running.worker.postMessage({ id, prefix, joined: paths.join('\0') })
  })
}
