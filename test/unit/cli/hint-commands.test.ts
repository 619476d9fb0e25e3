import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import type { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { createProgram } from '../../../src/cli/main.js'

const root = path.resolve(import.meta.dirname, '../../..')

/** Words after `safe-coder ` that are prose, not a command: "held by safe-coder process 123". */
const prose = new Set(['process'])

/** Where a mention ends: quotes, brackets, separators, table cells, the end of a sentence or line. */
const mentionEnd = /[`'"\\()[\],;\n]| — | \| |: |\.(\s|$)/

/** Every `safe-coder …` mention in a text, as its words (up to where the mention ends). */
function mentionsIn(text: string): string[][] {
  const found: string[][] = []
  for (const match of text.matchAll(/(?<![\w./-])safe-coder (?=\S)/g)) {
    const rest = text.slice(match.index + match[0].length)
    const end = rest.search(mentionEnd)
    const words = (end === -1 ? rest : rest.slice(0, end))
      .split(/\s+/)
      .map((word) => word.replace(/[.:!?…]+$/, ''))
      .filter((word) => word !== '')
    if (words.length > 0) found.push(words)
  }
  return found
}

/** What is wrong with a mention, checked against the real command tree; undefined when right. */
function problemOf(program: Command, words: readonly string[]): string | undefined {
  const [name, ...rest] = words
  if (name === undefined || prose.has(name)) return undefined
  if (name.startsWith('-')) return knowsFlag(program, name) ? undefined : `no option ${name}`
  let command = subcommand(program, name)
  if (command === undefined) return `no command "${name}"`
  for (const word of rest) {
    if (word === '--') break
    if (word.startsWith('-')) {
      const flag = word.split('=')[0] ?? word
      if (!knowsFlag(command, flag)) return `"${command.name()}" has no option ${flag}`
    } else if (command.commands.length > 0) {
      const names = word.split('|')
      const found = names.map((n) => subcommand(command as Command, n))
      const missing = names.filter((_, i) => found[i] === undefined)
      if (missing.length > 0) return `"${command.name()}" has no subcommand ${missing.join(', ')}`
      if (names.length > 1) break
      command = found[0] ?? command
    }
  }
  return undefined
}

function subcommand(command: Command, name: string): Command | undefined {
  return command.commands.find((c) => c.name() === name || c.aliases().includes(name))
}

function knowsFlag(command: Command, flag: string): boolean {
  if (flag === '--help' || flag === '-h') return true
  for (let c: Command | null = command; c !== null; c = c.parent) {
    if (c.options.some((option) => option.long === flag || option.short === flag)) return true
  }
  return false
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile() && /\.(ts|md)$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name))
}

function realProgram(): Promise<Command> {
  const ctx = {
    cwd: root,
    env: {},
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    signal: new AbortController().signal,
  }
  return createProgram(ctx, () => undefined)
}

describe('commands named in messages', () => {
  it('exist, with the options they are given, in every message under src/ and in the docs', async () => {
    const program = await realProgram()
    const problems: string[] = []
    let checked = 0
    const files = [
      ...(await sourceFiles(path.join(root, 'src'))),
      ...(await sourceFiles(path.join(root, 'docs'))),
      path.join(root, 'README.md'),
    ]
    for (const file of files) {
      for (const words of mentionsIn(await readFile(file, 'utf8'))) {
        checked++
        const problem = problemOf(program, words)
        if (problem !== undefined) {
          problems.push(`${path.relative(root, file)}: safe-coder ${words.join(' ')}: ${problem}`)
        }
      }
    }
    expect(problems).toEqual([])
    // The scan found the mentions: a broken pattern would pass by finding none.
    expect(checked).toBeGreaterThan(100)
  })

  it('reads mentions the way hints write them, and catches a wrong one', async () => {
    const program = await realProgram()
    const text =
      'Recover it first (`safe-coder sync --recover`): or run safe-coder exec --session ${id} -- ls, ' +
      'see `safe-coder config show|init`, held by safe-coder process 12, try safe-coder nope.'
    const mentions = mentionsIn(text)
    expect(mentions).toEqual([
      ['sync', '--recover'],
      ['exec', '--session', '${id}', '--', 'ls'],
      ['config', 'show|init'],
      ['process', '12'],
      ['nope'],
    ])
    expect(mentions.map((words) => problemOf(program, words))).toEqual([
      '"sync" has no option --recover',
      undefined,
      undefined,
      undefined,
      'no command "nope"',
    ])
    expect(problemOf(program, ['image', 'build', '--vm', '--force'])).toBeUndefined()
    expect(problemOf(program, ['image', 'make'])).toBe('"image" has no subcommand make')
    expect(problemOf(program, ['log', 'SESSION', '-n', '20'])).toBeUndefined()
  })
})
