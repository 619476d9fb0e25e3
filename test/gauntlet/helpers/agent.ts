import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { CliOptions, CliResult, World } from './world.js'

/** One model step of a demo script: text, then tool calls. */
export interface ScriptStep {
  text?: string
  tool_calls?: { tool: string; input: Record<string, unknown> }[]
}

/** `safe-coder run --json`'s summary. */
export interface RunSummary {
  ok: boolean
  sessionId: string
  toolCalls: number
  steps: number
  commits: string[]
  changedFiles: { path: string; status: string }[]
  answer: string
  error?: { code: string; message: string; hint?: string }
}

/** A tool result as the transcript keeps it. */
export interface ToolResult {
  toolCallId: string
  toolName: string
  output: unknown
  isError?: boolean
}

let scripts = 0

/** Writes a demo script outside the project (so it is never copied in) and returns its path. */
export async function writeScript(
  world: World,
  turns: ScriptStep[][],
  delayMs = 0,
): Promise<string> {
  const dir = path.join(world.root, 'scripts')
  await mkdir(dir, { recursive: true })
  const file = path.join(dir, `script-${++scripts}.json`)
  await writeFile(
    file,
    JSON.stringify({ delay_ms: delayMs, turns: turns.map((steps) => ({ steps })) }, null, 2),
  )
  return file
}

/** Every tool call of a script step list, in order, as `{ tool, input }`. */
export function call(tool: string, input: Record<string, unknown>): ScriptStep {
  return { tool_calls: [{ tool, input }] }
}

/**
 * Runs one scripted agent turn headless: `run --demo-script FILE --json PROMPT` (a new session,
 * or `--session ID`). The last step should answer without tool calls.
 */
export async function runScripted(
  world: World,
  steps: ScriptStep[],
  options: CliOptions & { session?: string; extraArgs?: string[]; prompt?: string } = {},
): Promise<{ result: CliResult; summary: RunSummary | undefined; id: string }> {
  const file = await writeScript(world, [steps])
  const args = ['run', '--demo-script', file, '--json', ...(options.extraArgs ?? [])]
  if (options.session !== undefined) args.push('--session', options.session)
  args.push(options.prompt ?? 'go')
  const result = await world.cli(args, options)
  let summary: RunSummary | undefined
  try {
    summary = JSON.parse(result.stdout) as RunSummary
  } catch {
    summary = undefined
  }
  return { result, summary, id: summary?.sessionId ?? options.session ?? '' }
}

/** The tool results of a session's transcript, in order. */
export async function toolResults(world: World, id: string): Promise<ToolResult[]> {
  const file = path.join(world.sessionsDir, id, 'transcript.jsonl')
  const out: ToolResult[] = []
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (line.trim() === '') continue
    const record = JSON.parse(line) as {
      type: string
      message?: { role: string; content: unknown }
    }
    if (record.type !== 'message' || record.message?.role !== 'tool') continue
    const content = record.message.content as { type: string }[]
    for (const part of content)
      if (part.type === 'tool-result') out.push(part as unknown as ToolResult)
  }
  return out
}

/** The text of a tool result's output, whatever its shape. */
export function outputText(result: ToolResult): string {
  return typeof result.output === 'string' ? result.output : JSON.stringify(result.output)
}
