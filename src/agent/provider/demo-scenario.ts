import type { DemoStep } from './demo-script.js'

/** What the demo model sees of the conversation: the user's turns and this turn's tool results. */
export interface DemoView {
  /** 1 for the first user message, 2 for the second… */
  turn: number
  userText: string
  /** Tool results since the latest user message, in order. */
  results: { toolName: string; output: string; isError: boolean }[]
  /** Model steps already taken in this turn (tool-result messages since the user spoke). */
  steps: number
}

const DEMO_FILE = 'SAFE_CODER_DEMO.md'
const NOTE = 'Reviewed in a Safe Coder sandbox: this line was added by the demo agent.'

/**
 * The built-in scenario: a believable first turn on whatever project it is given — list the
 * files, read one, edit it, run a command, write a new file, answer — decided from the tool
 * results so far, so it drives the real loop, tools and sandbox. Later turns run `run CMD`
 * requests in the sandbox and otherwise explain what the demo can do.
 */
export function builtinDemoStep(view: DemoView): DemoStep {
  return view.turn === 1 ? firstTurn(view) : laterTurn(view)
}

function firstTurn(view: DemoView): DemoStep {
  const done = (tool: string) => view.results.find((r) => r.toolName === tool)
  const listing = done('list_dir')
  if (listing === undefined) {
    return call('I will look around the project first.', 'list_dir', { path: '' })
  }
  const target = pickFile(listing.output)
  const read = done('read_file')
  if (target !== undefined && read === undefined) {
    return call(`\`${target}\` looks like the place to start; reading it.`, 'read_file', {
      path: target,
    })
  }
  const edit =
    target === undefined || read === undefined ? undefined : planEdit(target, read.output)
  if (edit !== undefined && done('edit_file') === undefined) {
    return call(
      `I will add a short note at the end of \`${target ?? ''}\` so you can see an edit in review.`,
      'edit_file',
      edit,
    )
  }
  const bash = done('bash')
  if (bash === undefined) {
    const count = `echo "files: $(find . -type f -not -path './.git/*' | wc -l)"`
    const lines = target === undefined ? '' : `; wc -l -- ${shellQuote(target)}`
    return call('Now a command in the sandbox, to measure the project.', 'bash', {
      command: `uname -sr; ${count}${lines}`,
    })
  }
  if (done('write_file') === undefined) {
    return call(`Writing what I found to \`${DEMO_FILE}\`.`, 'write_file', {
      path: DEMO_FILE,
      content: report(target, edit !== undefined, bash.output),
    })
  }
  const edited = view.results.some((r) => r.toolName === 'edit_file' && !r.isError)
  return {
    text: [
      'Done. In the sandbox I:',
      `- listed the project${target === undefined ? '' : ` and read \`${target}\``},`,
      edited
        ? `- added one line at the end of \`${target ?? ''}\`,`
        : '- left the existing files as they were,',
      `- ran a command (${firstLine(bash.output)}),`,
      `- wrote \`${DEMO_FILE}\`.`,
      '',
      'Nothing has reached your project yet: every step is a commit in the session history.',
      'Review it with `safe-coder diff`, then bring it back with `safe-coder sync` (and `safe-coder sync --undo` takes it back out).',
    ].join('\n'),
    tool_calls: [],
  }
}

function laterTurn(view: DemoView): DemoStep {
  const command = /^\s*(?:run|\$)\s+(.+)$/s.exec(view.userText)?.[1]?.trim()
  const ran = view.results.find((r) => r.toolName === 'bash')
  if (command !== undefined && ran === undefined) {
    return call(`Running \`${command}\` in the sandbox.`, 'bash', { command })
  }
  if (ran !== undefined) {
    const lines = ran.output.trim().split('\n')
    const exit = lines.findLast((l) => /^exit code /.test(l)) ?? 'done'
    const said = lines.filter((l) => !/^exit code |^\(no output\)$/.test(l)).at(-1)
    return { text: `Finished (${exit})${said === undefined ? '.' : `: ${said}`}`, tool_calls: [] }
  }
  return {
    text: 'This is the offline demo model: it follows a script rather than thinking. Type `run <command>` and I will run it in the sandbox, or connect a real provider with `--provider`.',
    tool_calls: [],
  }
}

function call(text: string, tool: string, input: Record<string, unknown>): DemoStep {
  return { text, tool_calls: [{ tool, input }] }
}

const textExtensions =
  /\.(md|markdown|txt|rst|js|mjs|cjs|ts|tsx|jsx|py|sh|rb|go|rs|c|h|cpp|java|toml|ya?ml|json|html|css)$/i

/** A README if there is one, else the first text-like file of the listing. */
export function pickFile(listing: string): string | undefined {
  // list_dir prints a header line, then "name  size" rows; directories end in "/".
  const files = listing
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s{2,}/)[0] ?? '')
    .filter((name) => name !== '' && !name.endsWith('/') && !name.includes(' -> '))
    .filter((name) => !name.startsWith('.') && !name.includes(' ') && name !== DEMO_FILE)
  return files.find((f) => /^readme/i.test(f)) ?? files.find((f) => textExtensions.test(f))
}

const commentStyles: [RegExp, (text: string) => string][] = [
  [/\.(md|markdown|html)$/i, (t) => `<!-- ${t} -->`],
  [/\.(js|mjs|cjs|ts|tsx|jsx|go|rs|c|h|cpp|java)$/i, (t) => `// ${t}`],
  [/\.(py|sh|rb|toml|ya?ml)$/i, (t) => `# ${t}`],
  [/\.(txt|rst)$/i, (t) => t],
  [/^readme$/i, (t) => t],
]

/** An edit appending a comment after the file's last unique non-empty line, if safe. */
export function planEdit(
  file: string,
  readOutput: string,
): { path: string; old_string: string; new_string: string } | undefined {
  const comment = commentStyles.find(([pattern]) => pattern.test(file))?.[1]
  if (comment === undefined) return undefined
  const lines = readOutput
    .split('\n')
    .map((line) => /^\s*\d+\t(.*)$/.exec(line)?.[1])
    .filter((line): line is string => line !== undefined)
  const counts = new Map<string, number>()
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1)
  const last = lines.findLast((line) => line.trim() !== '' && counts.get(line) === 1)
  if (last === undefined) return undefined
  return { path: file, old_string: last, new_string: `${last}\n\n${comment(NOTE)}` }
}

function report(target: string | undefined, edited: boolean, bashOutput: string): string {
  return [
    '# Safe Coder demo',
    '',
    'Written by the demo agent inside the sandbox. Nothing here reached the project until you synced it.',
    '',
    `- Read: ${target === undefined ? 'nothing (no text file found)' : `\`${target}\``}`,
    `- Edited: ${edited && target !== undefined ? `\`${target}\` (one line added at the end)` : 'nothing'}`,
    '- Measured in the sandbox:',
    '',
    '```',
    bashOutput.trim(),
    '```',
    '',
  ].join('\n')
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? ''
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}
