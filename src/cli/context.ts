import type { Writable } from 'node:stream'

/**
 * What every command gets from the edge: where it runs and where it writes. Commands return
 * an exit status or throw SafeCoderError; only main.ts exits.
 */
export interface CliContext {
  cwd: string
  env: NodeJS.ProcessEnv
  stdout: Writable
  stderr: Writable
  /** Where interactive commands read from; default: the process's stdin. */
  stdin?: NodeJS.ReadableStream
  /** Fires on SIGINT/SIGTERM; long commands pass it down. */
  signal: AbortSignal
}

/** Writes one line to a stream. */
export function println(stream: Writable, text = ''): void {
  stream.write(`${text}\n`)
}

/** Whether a stream is a terminal (colour, the dashboard, echo of typed answers). */
export function isTerminal(stream: NodeJS.ReadableStream | NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true
}
