import { PassThrough, Writable } from 'node:stream'
import xtermHeadless from '@xterm/headless'
import { Unicode11Addon } from '@xterm/addon-unicode11'
import { onTestFinished } from 'vitest'

const { Terminal } = xtermHeadless

/**
 * A fake terminal for in-process dashboard tests: blessed writes into `output`, which feeds a
 * headless xterm (Unicode 11 widths) that keeps the screen; `input` is what the user types.
 * Pass `input` and `output` to `blessed.screen({ input, output, terminal: 'xterm-256color' })`.
 */
export interface FakeTerminal {
  input: PassThrough & { isTTY: true; setRawMode: (raw: boolean) => void }
  output: Writable & { isTTY: true; columns: number; rows: number }
  /** The visible screen, one string per row (trailing spaces trimmed). */
  lines(): string[]
  /** The whole screen as one string. */
  text(): string
  /** Types keys: plain text, or escape sequences such as `\t`, `\r`, `\x1b[A` (up), `\x1b`. */
  type(keys: string): void
  /** Changes the size; blessed gets a `resize` event. */
  resize(columns: number, rows: number): void
  /** Waits until `check(text())` holds (xterm parses writes asynchronously). */
  waitFor(check: (screen: string) => boolean, timeoutMs?: number): Promise<string>
  /** Waits until every write so far is parsed. */
  flush(): Promise<void>
}

export const keys = {
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  enter: '\r',
  tab: '\t',
  shiftTab: '\x1b[Z',
  escape: '\x1b',
  ctrlC: '\x03',
  ctrlP: '\x10',
  pageDown: '\x1b[6~',
  pageUp: '\x1b[5~',
  space: ' ',
} as const

export function createFakeTerminal(columns = 120, rows = 40): FakeTerminal {
  const term = new Terminal({ cols: columns, rows, allowProposedApi: true })
  term.loadAddon(new Unicode11Addon())
  term.unicode.activeVersion = '11'
  let pending = Promise.resolve()
  const output = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        const data = typeof chunk === 'string' ? chunk : chunk.toString('utf8')
        pending = pending.then(
          () =>
            new Promise<void>((resolve) => {
              term.write(data, resolve)
            }),
        )
        callback()
      },
    }),
    { isTTY: true as const, columns, rows },
  )
  const input = Object.assign(new PassThrough(), {
    isTTY: true as const,
    setRawMode: (_raw: boolean) => undefined,
  })
  onTestFinished(() => {
    input.destroy()
    term.dispose()
  })
  const lines = (): string[] => {
    const buffer = term.buffer.active
    const out: string[] = []
    for (let y = 0; y < term.rows; y++) {
      out.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '')
    }
    return out
  }
  const flush = async (): Promise<void> => {
    let seen: Promise<void> | undefined
    while (seen !== pending) {
      seen = pending
      await seen
    }
  }
  return {
    input,
    output,
    lines,
    text: () => lines().join('\n'),
    type: (k) => input.write(k),
    resize(c, r) {
      output.columns = c
      output.rows = r
      term.resize(c, r)
      output.emit('resize')
    },
    async waitFor(check, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs
      for (;;) {
        await flush()
        const screen = lines().join('\n')
        if (check(screen)) return screen
        if (Date.now() > end) {
          throw new Error(`the screen never matched; it shows:\n${screen}`)
        }
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    flush,
  }
}
