import pty from '@lydell/node-pty'
import xtermHeadless from '@xterm/headless'
import { Unicode11Addon } from '@xterm/addon-unicode11'
import { onTestFailed, onTestFinished } from 'vitest'
import { binPath, requireBuiltCli } from './built-cli.js'

const { Terminal } = xtermHeadless

/** The built CLI in a real pseudo-terminal, its screen kept by a headless xterm. */
export interface PtyRun {
  /** The visible screen, one string per row. */
  screen(): string
  type(keys: string): void
  resize(columns: number, rows: number): void
  /** Resolves with the screen once it passes `check`; rejects at the timeout or when the program exits. */
  waitFor(check: RegExp | ((screen: string) => boolean), timeoutMs?: number): Promise<string>
  readonly exited: Promise<number>
}

export function spawnBuilt(
  args: string[],
  options: { cwd: string; env: Record<string, string>; columns?: number; rows?: number },
): PtyRun {
  requireBuiltCli()
  const columns = options.columns ?? 120
  const rows = options.rows ?? 36
  const term = new Terminal({ cols: columns, rows, allowProposedApi: true })
  term.loadAddon(new Unicode11Addon())
  term.unicode.activeVersion = '11'
  const child = pty.spawn(process.execPath, [binPath, ...args], {
    name: 'xterm-256color',
    cols: columns,
    rows,
    cwd: options.cwd,
    env: { ...options.env, TERM: 'xterm-256color' },
  })
  let pending = Promise.resolve()
  child.onData((data) => {
    pending = pending.then(
      () =>
        new Promise<void>((resolve) => {
          term.write(data, resolve)
        }),
    )
  })
  const exited = new Promise<number>((resolve) => {
    child.onExit(({ exitCode }) => {
      resolve(exitCode)
    })
  })
  let done = false
  void exited.then(() => (done = true))
  // What the program had drawn when the test ended; shown if the test failed (or timed out).
  let lastScreen = ''
  onTestFinished(async () => {
    lastScreen = screen()
    if (!done) {
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
    }
    term.dispose()
  })
  onTestFailed(() => {
    console.error(`the terminal showed when the test ended:\n${lastScreen}`)
  })
  const screen = (): string => {
    const buffer = term.buffer.active
    const lines: string[] = []
    for (let y = 0; y < term.rows; y++) {
      lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '')
    }
    return lines.join('\n')
  }
  return {
    screen,
    type: (keys) => {
      child.write(keys)
    },
    resize(c, r) {
      child.resize(c, r)
      term.resize(c, r)
    },
    async waitFor(check, timeoutMs = 20_000) {
      const test = typeof check === 'function' ? check : (s: string) => check.test(s)
      const end = Date.now() + timeoutMs
      // Output may trail the exit: an exited program gets one more look after it, then fails
      // now rather than at the timeout, since it will not draw again.
      let looksAfterExit = 0
      for (;;) {
        const exitedBefore = done
        await pending
        const shown = screen()
        if (test(shown)) return shown
        if (exitedBefore && looksAfterExit++ > 0) {
          throw new Error(`the program exited; the screen never showed ${String(check)}:\n${shown}`)
        }
        if (Date.now() > end) {
          throw new Error(`the screen never showed ${String(check)}; it shows:\n${shown}`)
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    exited,
  }
}
