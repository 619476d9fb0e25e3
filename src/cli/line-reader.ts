import readline from 'node:readline'
import { isTerminal } from './context.js'

/**
 * Lines from the user, one `next()` at a time, so the REPL loop and an approval question asked
 * in the middle of a turn read from the same queue. `next()` resolves undefined at end of input.
 */
export interface LineReader {
  next(prompt?: string): Promise<string | undefined>
  /** Called on Ctrl-C at a terminal (instead of the process-wide SIGINT). */
  onInterrupt(handler: () => void): void
  close(): void
}

export function createLineReader(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
): LineReader {
  const terminal = isTerminal(input)
  const rl = readline.createInterface({ input, output, terminal })
  const queued: string[] = []
  const waiting: ((line: string | undefined) => void)[] = []
  let ended = false
  let interrupt: () => void = () => undefined
  rl.on('line', (line) => {
    const waiter = waiting.shift()
    if (waiter === undefined) queued.push(line)
    else waiter(line)
  })
  rl.on('close', () => {
    ended = true
    for (const waiter of waiting.splice(0)) waiter(undefined)
  })
  rl.on('SIGINT', () => {
    interrupt()
  })
  return {
    next(prompt) {
      // The question is shown even when the answer is already waiting (piped input), so a
      // transcript of the session reads like the conversation it was.
      if (prompt !== undefined) {
        if (ended) output.write(`${prompt}\n`)
        else {
          rl.setPrompt(prompt)
          rl.prompt()
        }
      }
      // Without a terminal nothing echoes what was typed: echo the answer after its question.
      const echo = (line: string): string => {
        if (!terminal && prompt !== undefined) output.write(`${line}\n`)
        return line
      }
      const line = queued.shift()
      if (line !== undefined) return Promise.resolve(echo(line))
      if (ended) return Promise.resolve(undefined)
      return new Promise((resolve) => {
        waiting.push((next) => {
          resolve(next === undefined ? undefined : echo(next))
        })
      })
    },
    onInterrupt(handler) {
      interrupt = handler
    },
    close() {
      rl.close()
    },
  }
}
