import { z } from 'zod'
import { listFiles, relativeTo } from './find-files.js'
import { globToRegExp } from './glob-match.js'
import { defineTool, loadDescription } from './outcome.js'
import { projectPath } from './paths.js'
import { plural } from './text.js'

/** Paths shown at most. */
const MAX_PATHS = 500

const inputSchema = z.object({
  pattern: z
    .string()
    .min(1)
    .describe(
      'Glob matched against paths relative to `path`, e.g. "src/**/*.ts" or "*.{js,json}".',
    ),
  path: z
    .string()
    .optional()
    .describe('Directory to search, relative to the project root (default: the root).'),
})

export const globTool = defineTool({
  name: 'glob',
  description: loadDescription('./glob.md', import.meta.url),
  inputSchema,
  kind: 'read',
  describe: (args) =>
    args.path === undefined || args.path === '' ? args.pattern : `${args.pattern} in ${args.path}`,
  async run(args, ctx) {
    const base = projectPath(args.path ?? '', { allowRoot: true })
    const pattern = args.pattern.replace(/^(\.\/)+/, '')
    const matcher = globToRegExp(pattern)
    const listing = await listFiles(ctx, base, `${base}/${pattern}`)
    const matches = listing.paths.filter((p) => matcher.test(relativeTo(base, p))).sort()
    const where = base === '.' ? '' : ` in ${base}`
    const lines = matches.slice(0, MAX_PATHS)
    if (matches.length > MAX_PATHS) {
      lines.push(
        `… [${plural(matches.length - MAX_PATHS, 'more file')}; narrow the pattern or the path]`,
      )
    }
    if (listing.partial) lines.push('(the tree is too large to list completely; narrow the path)')
    const found = plural(matches.length, 'file')
    return {
      output:
        matches.length === 0
          ? `No files match ${JSON.stringify(args.pattern)}${where}.`
          : lines.join('\n'),
      isError: false,
      changes: { kind: 'none' },
      summary: `${found}${where}`,
    }
  },
})
