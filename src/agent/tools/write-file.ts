import { z } from 'zod'
import { defineTool, loadDescription } from './outcome.js'
import { projectPath } from './paths.js'
import { plural, splitLines } from './text.js'

const inputSchema = z.object({
  path: z.string().describe('File to create or overwrite, relative to the project root.'),
  content: z.string().describe('The complete content of the file.'),
})

export const writeFileTool = defineTool({
  name: 'write_file',
  description: loadDescription('./write-file.md', import.meta.url),
  inputSchema,
  kind: 'write',
  describe: (args) => args.path,
  async run(args, ctx) {
    const file = projectPath(args.path)
    await ctx.sandbox.writeFile(file, args.content, { signal: ctx.signal })
    const lines = plural(splitLines(args.content).length, 'line')
    return {
      output: `Wrote ${file} (${lines}).`,
      isError: false,
      changes: { kind: 'paths', paths: [file] },
      summary: `wrote ${file} (${lines})`,
    }
  },
})
