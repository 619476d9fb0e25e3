import { z } from 'zod'
import { isSafeCoderError } from '../../shared/errors.js'
import { formatBytes } from '../../shared/format.js'
import type { FileStat } from '../../sandbox/types.js'
import { defineTool, loadDescription, toolError } from './outcome.js'
import { projectPath } from './paths.js'
import { decodeText, numberedLine, splitLines } from './text.js'
import type { ToolContext } from './types.js'

/** Files larger than this are edited with bash instead. */
const MAX_EDIT_BYTES = 8 * 1024 * 1024
/** Lines of context shown around an edit, and the most lines a snippet shows. */
const CONTEXT_LINES = 3
const MAX_SNIPPET_LINES = 30

const inputSchema = z.object({
  path: z.string().describe('File to edit, relative to the project root.'),
  old_string: z.string().describe('The exact text to replace, as it appears in the file.'),
  new_string: z.string().describe('The text to put in its place.'),
  replace_all: z
    .boolean()
    .optional()
    .describe('Replace every occurrence instead of requiring exactly one (default false).'),
})

export const editFileTool = defineTool({
  name: 'edit_file',
  description: loadDescription('./edit-file.md', import.meta.url),
  inputSchema,
  kind: 'write',
  describe: (args) => args.path,
  async run(args, ctx) {
    const file = projectPath(args.path)
    if (args.old_string === '') {
      return toolError(
        'old_string is empty. To create or rewrite a file use write_file.',
        'empty old_string',
      )
    }
    if (args.old_string === args.new_string) {
      return toolError('old_string and new_string are identical; nothing to change.', 'no change')
    }
    const info = await statFile(ctx, file)
    if (typeof info === 'string') return toolError(info, 'cannot edit')
    const text = decodeText(await ctx.sandbox.readFile(file, { signal: ctx.signal }))
    if (text === undefined)
      return toolError(`${file} is a binary file; it cannot be edited as text.`, 'binary file')

    let [oldText, newText] = [args.old_string, args.new_string]
    let count = occurrences(text, oldText)
    if (count === 0 && text.includes('\r\n') && !oldText.includes('\r')) {
      // The file has Windows line endings the model did not reproduce.
      ;[oldText, newText] = [oldText.replace(/\n/g, '\r\n'), newText.replace(/\n/g, '\r\n')]
      count = occurrences(text, oldText)
    }
    if (count === 0) {
      return toolError(
        `old_string not found in ${file}; read the file first and copy the exact text, whitespace and indentation included.`,
        'no match',
      )
    }
    if (count > 1 && args.replace_all !== true) {
      return toolError(
        `old_string found ${count} times in ${file}; add surrounding context to make it unique or set replace_all.`,
        'ambiguous match',
      )
    }
    const at = text.indexOf(oldText)
    const edited =
      args.replace_all === true
        ? text.split(oldText).join(newText)
        : text.slice(0, at) + newText + text.slice(at + oldText.length)
    await ctx.sandbox.writeFile(file, edited, { mode: info.mode, signal: ctx.signal })

    const replaced = count === 1 ? '1 occurrence' : `${count} occurrences`
    return {
      output: `Edited ${file}: replaced ${replaced}.\n${snippet(edited, at, newText)}`,
      isError: false,
      changes: { kind: 'paths', paths: [file] },
      summary: `edited ${file}`,
    }
  },
})

/** The file's stat, or why it cannot be edited. */
async function statFile(ctx: ToolContext, file: string): Promise<FileStat | string> {
  let info: FileStat
  try {
    info = await ctx.sandbox.stat(file, { signal: ctx.signal })
  } catch (error) {
    if (!isSafeCoderError(error, 'NOT_FOUND')) throw error
    return `${file} does not exist. To create it use write_file.`
  }
  switch (info.kind) {
    case 'file':
      return info.size > MAX_EDIT_BYTES
        ? `${file} is too large to edit here (${formatBytes(info.size)}); use bash (e.g. sed).`
        : info
    case 'dir':
      return `${file} is a directory, not a file.`
    case 'symlink':
      return `${file} is a symlink; edit the file it points to instead.`
    case 'other':
      return `${file} is not a regular file.`
  }
}

function occurrences(text: string, search: string): number {
  let count = 0
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + search.length)) {
    count++
  }
  return count
}

/** The first edited lines with a little context, numbered as read_file shows them. */
function snippet(text: string, at: number, inserted: string): string {
  const lines = splitLines(text)
  const firstEdited = text.slice(0, at).split('\n').length
  const lastEdited = firstEdited + Math.max(0, splitLines(inserted).length - 1)
  const from = Math.max(1, firstEdited - CONTEXT_LINES)
  const to = Math.min(lines.length, lastEdited + CONTEXT_LINES, from + MAX_SNIPPET_LINES - 1)
  const shown: string[] = []
  for (let n = from; n <= to; n++) shown.push(numberedLine(n, lines[n - 1] ?? ''))
  return shown.length === 0 ? '(the file is now empty)' : shown.join('\n')
}
