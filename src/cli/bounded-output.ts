import type { Writable } from 'node:stream'

/** Output a reader has not taken yet beyond which the rest is dropped (it would fill the heap). */
const MAX_PENDING_BYTES = 16 * 1024 * 1024

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
      if (stream.writableLength > MAX_PENDING_BYTES) dropped += chunk.length
      else stream.write(chunk)
    },
    dropped: () => dropped,
  }
}
