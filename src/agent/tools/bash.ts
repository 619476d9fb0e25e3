import { z } from 'zod'
import { formatDuration } from '../../shared/format.js'
import type { ExecResult } from '../../sandbox/types.js'
import { OutputCollector } from './output-collector.js'
import { defineTool, loadDescription } from './outcome.js'
import { programs } from './sandbox-exec.js'
import { cutMarker, truncateText } from './truncate.js'

/** Room kept under `maxOutputChars` for the markers and the status lines. */
const STATUS_ROOM = 200
const ADVICE = 'filter the output with grep, head or tail'
/**
 * Runs the shell that runs the command with stderr sent into stdout's pipe: the model reads
 * the two in the order they were written (two streams would arrive in any order). The command
 * stays one argv element, parsed only by the inner shell.
 */
const MERGE_STDERR = ['/bin/sh', '-c', 'exec 2>&1; exec "$@"', 'safe-coder-bash']

const inputSchema = z.object({
  command: z.string().min(1).describe('The shell command to run, from the project root.'),
  timeout_s: z
    .number()
    .positive()
    .optional()
    .describe('Seconds before the command is killed (default and maximum: set by the session).'),
})

export const bashTool = defineTool({
  name: 'bash',
  description: loadDescription('./bash.md', import.meta.url),
  inputSchema,
  kind: 'exec',
  describe: (args) => {
    const line = args.command.trim().split('\n')[0] ?? ''
    const more = line.length > 80 || args.command.trim().includes('\n')
    return more ? `${line.slice(0, 80)}…` : line
  },
  async run(args, ctx) {
    const { bash } = await programs(ctx)
    const timeoutMs = Math.min(
      args.timeout_s === undefined ? Infinity : Math.ceil(args.timeout_s * 1000),
      ctx.limits.bashTimeoutMs,
    )
    const budget = Math.max(0, ctx.limits.maxOutputChars - STATUS_ROOM)
    // Head and tail, each at most half of what is left once the cut marker has its room.
    const collector = new OutputCollector(Math.max(0, Math.floor((budget - 100) / 2)))
    const result = await ctx.sandbox.exec(
      {
        command: [...MERGE_STDERR, bash ? 'bash' : '/bin/sh', '-c', args.command],
        timeoutMs,
        // Output reaches the collector as it streams; the result keeps only a little.
        maxOutputBytes: 64 * 1024,
      },
      { onStdout: collector.push, onStderr: collector.push, signal: ctx.signal },
    )
    if (collector.total === 0) {
      // A backend that does not stream: take what the result kept.
      collector.push(Buffer.from(result.stdout + result.stderr))
    }
    const { head, tail, droppedBytes } = collector.text()
    const marker = droppedBytes > 0 ? `\n${cutMarker(droppedBytes, 'bytes', ADVICE)}\n` : ''
    const body = truncateText(head + marker + tail, budget, { keep: 'ends', advice: ADVICE })
    const status = statusLines(result, timeoutMs)
    return {
      output: `${body === '' ? '(no output)\n' : body.replace(/\n?$/, '\n')}${status.join('\n')}`,
      isError: result.timedOut || result.aborted,
      changes: { kind: 'scan' },
      summary: summary(result, timeoutMs),
      exitCode: result.exitCode,
    }
  },
})

function statusLines(result: ExecResult, timeoutMs: number): string[] {
  const lines = [`exit code ${result.exitCode ?? 'none (killed)'}`]
  if (result.timedOut) {
    lines.push(`timed out after ${formatSeconds(timeoutMs)}; the command was killed`)
  }
  if (result.aborted) lines.push('cancelled; the command was killed')
  return lines
}

function summary(result: ExecResult, timeoutMs: number): string {
  if (result.timedOut) return `timed out after ${formatSeconds(timeoutMs)}`
  const took = formatDuration(result.durationMs)
  if (result.aborted) return `cancelled after ${took}`
  return `exit ${result.exitCode ?? 'none'} in ${took}`
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`
}
