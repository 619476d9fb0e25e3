import { z } from 'zod'
import { formatBytes } from '../../shared/format.js'
import type { DirEntry } from '../../sandbox/types.js'
import { defineTool, loadDescription } from './outcome.js'
import { projectPath } from './paths.js'
import { dotted, helperExec } from './sandbox-exec.js'
import { plural } from './text.js'
import type { ToolContext } from './types.js'

/** Entries shown at most. */
const MAX_ENTRIES = 500

/** Prints the target of each symlink argument, each followed by a NUL. */
const READLINK_SCRIPT = 'for f; do printf "%s\\000" "$(readlink "$f")"; done'

const inputSchema = z.object({
  path: z
    .string()
    .optional()
    .describe('Directory to list, relative to the project root (default: the root).'),
})

export const listDirTool = defineTool({
  name: 'list_dir',
  description: loadDescription('./list-dir.md', import.meta.url),
  inputSchema,
  kind: 'read',
  describe: (args) => (args.path === undefined || args.path === '' ? '.' : args.path),
  async run(args, ctx) {
    const dir = projectPath(args.path ?? '', { allowRoot: true })
    const entries = (await ctx.sandbox.list(dir, { signal: ctx.signal })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )
    const shown = entries.slice(0, MAX_ENTRIES)
    const targets = await linkTargets(ctx, dir, shown)
    const lines = shown.map((entry) => render(entry, targets.get(entry.name)))
    if (entries.length > shown.length) {
      lines.push(
        `… ${plural(entries.length - shown.length, 'more entry', 'more entries')}; use glob to narrow it down`,
      )
    }
    const count = plural(entries.length, 'entry', 'entries')
    const header = `${dir === '.' ? '.' : `${dir}/`} (${entries.length === 0 ? 'empty' : count})`
    return {
      output: [header, ...lines].join('\n'),
      isError: false,
      changes: { kind: 'none' },
      summary: `listed ${dir} (${count})`,
    }
  },
})

function render(entry: DirEntry, target: string | undefined): string {
  switch (entry.kind) {
    case 'dir':
      return `${entry.name}/`
    case 'symlink':
      return `${entry.name} -> ${target ?? '?'}`
    case 'file':
      return `${entry.name}  ${formatBytes(entry.size)}`
    case 'other':
      return `${entry.name}  (special file)`
  }
}

/** Where the symlinks among `entries` point, read in one exec. */
async function linkTargets(
  ctx: ToolContext,
  dir: string,
  entries: DirEntry[],
): Promise<Map<string, string>> {
  const links = entries.filter((e) => e.kind === 'symlink').map((e) => e.name)
  if (links.length === 0) return new Map()
  const paths = links.map((name) => (dir === '.' ? `./${name}` : `${dotted(dir)}/${name}`))
  const result = await helperExec(ctx, {
    command: ['/bin/sh', '-c', READLINK_SCRIPT, 'safe-coder-readlink', ...paths],
  })
  const targets = result.stdout.split('\0')
  return new Map(links.map((name, i) => [name, targets[i] ?? '?']))
}
