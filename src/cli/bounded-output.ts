import type { Writable } from 'node:stream'

/** Output a reader has not taken yet beyond which the rest is dropped (it would fill the heap). */
const MAX_PENDING_BYTES = 16 * 1024 * 1024
/** Output waiting for a reader at which the sandbox is asked to pause the command. */
const PAUSE_AT_BYTES = 1024 * 1024

/**
 * Forwards a sandbox command's output to our stdout or stderr without letting a reader that
 * falls behind (a paused pager, a full pipe) grow Safe Coder's memory without bound: a command
 * can print far faster than any terminal reads. What is dropped is counted and said.
 */
export function boundedForward(stream: Writable): {
  write: (chunk: Uint8Array) => void
  dropped: () => number
} {
  let dropped = 0
  return {
    write: (chunk) => {
      // A reader that went away (`| head`) takes nothing more; the command still runs to its end.
      if (stream.destroyed || stream.writableLength > MAX_PENDING_BYTES) dropped += chunk.length
      else stream.write(chunk)
    },
    dropped: () => dropped,
  }
}

/**
 * Backpressure for `ExecIO.waitForReader`: while our stdout or stderr holds more than 1 MiB its
 * reader has not taken, the command in the sandbox waits (its pipes fill) until they drain —
 * so a slow reader (`| (sleep 3; wc -c)`, a pager) still gets every byte. The 16 MiB drop in
 * `boundedForward` stays as the last resort for a path that cannot pause.
 */
export function readerBackpressure(streams: Writable[]): () => Promise<void> | undefined {
  return () => {
    const full = streams.find((s) => !s.destroyed && s.writableLength > PAUSE_AT_BYTES)
    return full === undefined ? undefined : drained(full)
  }
}

/** Settles once everything written to `stream` has been taken, or the stream is gone. */
export function drained(stream: Writable): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      if (stream.writableLength > 0 && !stream.destroyed) return
      stream.off('drain', done).off('error', done).off('close', done)
      resolve()
    }
    stream.on('drain', done).on('error', done).on('close', done)
  })
}
