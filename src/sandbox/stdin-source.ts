import type { Writable } from 'node:stream'

/** A command's stdin as given: whole bytes, or a stream to forward as it arrives. */
export type StdinInput = string | Uint8Array | AsyncIterable<Uint8Array>

/** Whether `input` is a stream (forwarded chunk by chunk) rather than bytes known up front. */
export function isStdinStream(input: StdinInput | undefined): input is AsyncIterable<Uint8Array> {
  return input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array)
}

/**
 * Forwards `source` into `target` with backpressure — the next chunk is taken only when the
 * target has drained — then ends the target, so the command reads EOF. Stops taking chunks once
 * `stopped()` holds (the command ended) or the target closed. A source that fails ends the
 * input like an EOF: the command decides what a short input means. Never rejects.
 */
export async function pumpStdin(
  source: AsyncIterable<Uint8Array>,
  target: Writable,
  stopped: () => boolean,
): Promise<void> {
  const done = (): boolean => stopped() || target.destroyed || target.writableEnded
  try {
    for await (const chunk of source) {
      if (done()) return
      if (!target.write(chunk)) await drained(target)
    }
  } catch {
    // Fall through to the end of the input.
  }
  if (!done()) target.end()
}

function drained(target: Writable): Promise<void> {
  return new Promise((resolve) => {
    const settle = (): void => {
      target.off('drain', settle)
      target.off('close', settle)
      target.off('error', settle)
      resolve()
    }
    target.on('drain', settle)
    target.on('close', settle)
    target.on('error', settle)
  })
}
