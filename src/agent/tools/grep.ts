import path from 'node:path/posix'
import { z } from 'zod'
import { findCommand, listFiles, relativeTo, skippedDirs } from './find-files.js'
import { globToRegExp } from './glob-match.js'
import { defineTool, loadDescription, toolError } from './outcome.js'
import { projectPath } from './paths.js'
import { dotted, guardedExec, helperExec, programs, undotted } from './sandbox-exec.js'
import { plural } from './text.js'
import type { ToolContext } from './types.js'
import type { ExecResult } from '../../sandbox/types.js'

const DEFAULT_RESULTS = 100
const MAX_RESULTS = 1000
/** Characters of one matching line shown to the model. */
const MAX_MATCH_CHARS = 500
/** Bytes of search output kept. */
const MAX_SEARCH_BYTES = 4 * 1024 * 1024

const inputSchema = z.object({
  pattern: z.string().min(1).describe('Regular expression to search for.'),
  path: z
    .string()
    .optional()
    .describe('File or directory to search, relative to the project root (default: the root).'),
  glob: z
    .string()
    .optional()
    .describe('Only search files matching this glob, e.g. "*.ts" or "src/**/*.{js,jsx}".'),
  ignore_case: z.boolean().optional().describe('Match case-insensitively (default false).'),
  max_results: z
    .number()
    .int()
    .min(1)
    .max(MAX_RESULTS)
    .optional()
    .describe(`Most matching lines to return (default ${DEFAULT_RESULTS}).`),
})

type GrepArgs = z.infer<typeof inputSchema>

interface Match {
  file: string
  line: number
  text: string
}

export const grepTool = defineTool({
  name: 'grep',
  description: loadDescription('./grep.md', import.meta.url),
  inputSchema,
  kind: 'read',
  describe: (args) =>
    [
      JSON.stringify(args.pattern),
      args.path === undefined || args.path === '' ? '' : `in ${args.path}`,
      args.glob === undefined ? '' : `(${args.glob})`,
    ]
      .filter((part) => part !== '')
      .join(' '),
  async run(args, ctx) {
    const base = projectPath(args.path ?? '', { allowRoot: true })
    const result = await search(ctx, base, args)
    if (result === undefined) {
      const where = base === '.' ? '' : ` under ${base}`
      return toolError(`No files match the glob ${JSON.stringify(args.glob)}${where}.`, 'no files')
    }
    const lines = result.stdout.split('\n')
    // A cut output ends in the middle of a line.
    if (result.truncatedBytes > 0) lines.pop()
    const matches = lines.flatMap(parseMatch).sort(byPlace)
    const stderr = result.stderr.trim()
    if (matches.length === 0) {
      return stderr === ''
        ? {
            output: 'No matches.',
            isError: false,
            changes: { kind: 'none' },
            summary: 'no matches',
          }
        : toolError(`No matches; the search reported:\n${stderr}`, 'search failed')
    }
    return {
      output: render(
        matches,
        args.max_results ?? DEFAULT_RESULTS,
        result.truncatedBytes > 0,
        stderr,
      ),
      isError: false,
      changes: { kind: 'none' },
      summary: plural(matches.length, 'match', 'matches'),
    }
  },
})

/** Runs the search; undefined when a glob leaves no file to search. */
async function search(
  ctx: ToolContext,
  base: string,
  args: GrepArgs,
): Promise<ExecResult | undefined> {
  const { rg } = await programs(ctx)
  const flags = args.ignore_case === true ? ['-i'] : []
  const rgArgv = ['rg', '--line-number', '--with-filename', '--no-heading', '--color', 'never']
  rgArgv.push('--max-columns', String(MAX_MATCH_CHARS), '--max-columns-preview', ...flags)
  const grepArgv = ['grep', '-n', '-H', '-E', ...flags]
  const patternArgs = ['-e', args.pattern, '--']
  const limits = { maxOutputBytes: MAX_SEARCH_BYTES }

  if (args.glob !== undefined) {
    const files = await globFiles(ctx, base, args.glob)
    if (files.length === 0) return undefined
    const argv = ['xargs', '-0', ...(rg ? rgArgv : grepArgv), ...patternArgs]
    return helperExec(ctx, { command: argv, stdin: `${files.join('\0')}\0`, ...limits })
  }
  if (rg) {
    const skip = skippedDirs(base).flatMap((name) => ['--glob', `!${name}`])
    const argv = [...rgArgv, '--hidden', '--no-require-git', ...skip, ...patternArgs, dotted(base)]
    return guardedExec(ctx, base, 'any', argv, limits)
  }
  // busybox grep cannot skip directories (nor binary files): let find choose the files.
  const argv = [...findCommand(base, base), '-type', 'f', '-exec', ...grepArgv, ...patternArgs]
  return guardedExec(ctx, base, 'any', [...argv, '{}', '+'], limits)
}

/** Project paths of the regular files under `base` that `glob` selects. */
async function globFiles(ctx: ToolContext, base: string, glob: string): Promise<string[]> {
  const matcher = globToRegExp(glob)
  const byName = !glob.includes('/')
  const listing = await listFiles(ctx, base, `${base}/${glob}`, { regularOnly: true })
  return listing.paths
    .filter((p) => matcher.test(byName ? path.basename(p) : relativeTo(base, p)))
    .sort()
}

const MATCH_LINE = /^(.+?):(\d+):(.*)$/

function parseMatch(line: string): Match[] {
  const found = MATCH_LINE.exec(line)
  if (found === null) return []
  const [, file = '', lineNo = '0', text = ''] = found
  return [{ file: undotted(file), line: Number(lineNo), text }]
}

function byPlace(a: Match, b: Match): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line
}

function render(matches: Match[], max: number, cut: boolean, stderr: string): string {
  const files = new Set(matches.map((m) => m.file)).size
  const lines = matches.slice(0, max).map((m) => {
    const text = m.text.length > MAX_MATCH_CHARS ? `${m.text.slice(0, MAX_MATCH_CHARS)}…` : m.text
    return `${m.file}:${m.line}: ${text}`
  })
  const found = `${plural(matches.length, 'match', 'matches')} in ${plural(files, 'file')}`
  const notes = [
    matches.length > max
      ? `${found}; showing the first ${max}: narrow the pattern, path or glob, or raise max_results.`
      : found,
  ]
  if (cut) notes.push('The search output was too large and was cut; some matches are missing.')
  if (stderr !== '') notes.push(`Some files could not be searched: ${stderr.split('\n')[0] ?? ''}`)
  return [...lines, '', ...notes].join('\n')
}
