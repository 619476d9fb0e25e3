import { z } from 'zod'
import { formatBytes } from '../../shared/format.js'
import { defineTool, loadDescription, toolError } from './outcome.js'
import { projectPath } from './paths.js'
import { decodeText, numberedLine, plural, splitLines } from './text.js'

/** Lines returned when the model gives no `limit`. */
const DEFAULT_LINES = 2000
/** Bytes read from the sandbox at most; beyond that the model is pointed to bash. */
const MAX_READ_BYTES = 8 * 1024 * 1024
/** Room kept under `maxOutputChars` for the closing note. */
const NOTE_ROOM = 200

const inputSchema = z.object({
  path: z.string().describe('File to read, relative to the project root.'),
  offset: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('1-based line to start at (default 1). Use it to continue a long file.'),
  limit: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(`How many lines to read (default ${DEFAULT_LINES}).`),
})

export const readFileTool = defineTool({
  name: 'read_file',
  description: loadDescription('./read-file.md', import.meta.url),
  inputSchema,
  kind: 'read',
  describe: (args) =>
    args.offset === undefined && args.limit === undefined
      ? args.path
      : `${args.path}:${args.offset ?? 1}${args.limit === undefined ? '' : `+${args.limit}`}`,
  async run(args, ctx) {
    const file = projectPath(args.path)
    const bytes = await ctx.sandbox.readFile(file, { maxBytes: MAX_READ_BYTES, signal: ctx.signal })
    const text = decodeText(bytes)
    if (text === undefined) {
      return {
        output: `${file} is a binary file (${formatBytes(bytes.length)}); it is not shown. Inspect it with bash (e.g. \`od -c ${file} | head\`) if you must.`,
        isError: false,
        changes: { kind: 'none' },
        summary: `read ${file} (binary)`,
      }
    }
    const lines = splitLines(text)
    const total = lines.length
    const partial = bytes.length >= MAX_READ_BYTES ? ' (only its first 8 MiB were read)' : ''
    if (total === 0) {
      return {
        output: `${file} is empty.`,
        isError: false,
        changes: { kind: 'none' },
        summary: `read ${file} (empty)`,
      }
    }
    const first = args.offset ?? 1
    if (first > total) {
      return toolError(
        `offset ${first} is past the end of ${file}, which has ${plural(total, 'line')}${partial}.`,
        'offset past the end',
      )
    }
    const last = Math.min(total, first + (args.limit ?? DEFAULT_LINES) - 1)
    const budget = ctx.limits.maxOutputChars - NOTE_ROOM
    const shown: string[] = []
    let used = 0
    for (let n = first; n <= last; n++) {
      const line = numberedLine(n, lines[n - 1] ?? '')
      if (shown.length > 0 && used + line.length + 1 > budget) break
      shown.push(line)
      used += line.length + 1
    }
    const end = first + shown.length - 1
    const whole = first === 1 && end === total
    const note = whole
      ? partial === ''
        ? ''
        : `\n(${plural(total, 'line')}${partial}; read further with bash, e.g. sed -n)`
      : `\n(lines ${first}-${end} of ${total}${partial}${end < total ? `; continue with offset ${end + 1}` : ''})`
    return {
      output: shown.join('\n') + note,
      isError: false,
      changes: { kind: 'none' },
      summary: whole
        ? `read ${file} (${plural(total, 'line')})`
        : `read ${file} (lines ${first}-${end} of ${total})`,
    }
  },
})
