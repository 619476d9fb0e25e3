import { Writable } from 'node:stream'
import type { CliContext } from '../../src/cli/context.js'
import { main } from '../../src/cli/main.js'

/** What one CLI run produced. */
export interface CliResult {
  status: number
  stdout: string
  stderr: string
}

/** A Writable that keeps everything written to it. */
export interface CapturedStream {
  stream: Writable
  text: () => string
}

/** An in-memory stream for a CliContext; `text()` returns everything written so far. */
export function captureStream(): CapturedStream {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      callback()
    },
  })
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

/**
 * Runs `main(argv, ctx)` in-process with captured stdout/stderr. Unset context fields default to
 * this process's cwd and environment and a signal that never fires; tests that read config
 * should pass their own `env` (HOME, XDG_CONFIG_HOME) so the developer's files stay out.
 */
export async function runCli(
  argv: string[],
  context: Partial<Pick<CliContext, 'cwd' | 'env' | 'signal'>> = {},
): Promise<CliResult> {
  const stdout = captureStream()
  const stderr = captureStream()
  const status = await main(argv, {
    cwd: context.cwd ?? process.cwd(),
    env: context.env ?? process.env,
    signal: context.signal ?? new AbortController().signal,
    stdout: stdout.stream,
    stderr: stderr.stream,
  })
  return { status, stdout: stdout.text(), stderr: stderr.text() }
}
