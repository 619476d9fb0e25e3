import type { Writable } from 'node:stream'
import type { Bus } from '../bus/bus.js'
import { DisposableStore } from '../bus/disposable.js'
import type { EventMap } from '../bus/events.js'
import { visibleText } from '../git/diff-escape.js'
import { formatDuration } from '../shared/format.js'

/**
 * Line-mode rendering of one session's bus events: streamed assistant text, one line per tool
 * call with its outcome, retries and sandbox start-up. Used by `run` (to stderr) and by the
 * `chat --no-tui` REPL (to stdout).
 */
export function printSessionEvents(
  bus: Bus<EventMap>,
  /** undefined: every session on the bus (a run has one). */
  sessionId: string | undefined,
  out: Writable,
  options: { text: boolean },
): DisposableStore {
  const store = new DisposableStore()
  let atLineStart = true
  const write = (text: string): void => {
    if (text === '') return
    out.write(text)
    atLineStart = text.endsWith('\n')
  }
  const line = (text: string): void => {
    write(`${atLineStart ? '' : '\n'}${text}\n`)
  }
  const mine = <K extends keyof EventMap>(
    name: K,
    listener: (payload: EventMap[K]) => void,
  ): void => {
    // Every printer subscription leaves the start-up backlog to the one below.
    store.add(
      bus.on(
        name,
        (payload) => {
          const id = (payload as { sessionId?: string }).sessionId
          if (sessionId === undefined || id === sessionId) listener(payload)
        },
        { replay: false },
      ),
    )
  }
  mine('session.status', (e) => {
    if (e.status === 'starting' && e.detail !== undefined) line(`  … ${visibleText(e.detail)}`)
  })
  if (options.text) {
    mine('agent.text', (e) => {
      write(e.text)
    })
  }
  mine('tool.started', (e) => {
    // Arguments and summaries carry what the model and the sandbox chose: no raw controls.
    line(`  > ${visibleText(e.tool)} ${visibleText(e.args)}`)
  })
  mine('tool.finished', (e) => {
    line(
      `    ${e.isError ? 'failed: ' : ''}${visibleText(e.summary)} (${formatDuration(e.durationMs)})`,
    )
  })
  mine('agent.retry', (e) => {
    line(
      `  … ${visibleText(e.reason)}; retrying in ${formatDuration(e.delayMs)} (attempt ${e.attempt})`,
    )
  })
  mine('agent.compacted', (e) => {
    line(`  … context ${e.stage}: ${e.beforeTokens} → ${e.afterTokens} tokens`)
  })
  mine('approval.resolved', (e) => {
    if (e.by === 'policy' && !e.approved) line('    not allowed by the approval policy')
  })
  mine('turn.finished', () => {
    if (!atLineStart) write('\n')
  })
  return store
}
