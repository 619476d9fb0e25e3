import { appendFile, readFile } from 'node:fs/promises'
import { z } from 'zod'
import type { AgentMessage } from '../agent/types.js'
import { errnoOf, SafeCoderError } from '../shared/errors.js'

/**
 * transcript.jsonl: the conversation, appended one record a line as it happens, so a crash
 * loses at most the line being written. A `compacted` record replaces everything before it.
 */
export type TranscriptRecord =
  | { type: 'message'; at: string; message: AgentMessage }
  | { type: 'compacted'; at: string; messages: AgentMessage[] }

const part = z.union([
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({
    type: z.literal('tool-call'),
    toolCallId: z.string(),
    toolName: z.string(),
    input: z.unknown(),
  }),
])
const message = z.union([
  z.object({ role: z.literal('user'), content: z.string() }),
  z.object({ role: z.literal('assistant'), content: z.array(part) }),
  z.object({
    role: z.literal('tool'),
    content: z.array(
      z.object({
        type: z.literal('tool-result'),
        toolCallId: z.string(),
        toolName: z.string(),
        output: z.string(),
        isError: z.boolean(),
      }),
    ),
  }),
])
const record = z.union([
  z.object({ type: z.literal('message'), at: z.string(), message }),
  z.object({ type: z.literal('compacted'), at: z.string(), messages: z.array(message) }),
])

export async function appendTranscript(
  file: string,
  entry: { message: AgentMessage } | { compacted: AgentMessage[] },
): Promise<void> {
  const at = new Date().toISOString()
  const line: TranscriptRecord =
    'message' in entry
      ? { type: 'message', at, message: entry.message }
      : { type: 'compacted', at, messages: entry.compacted }
  await appendFile(file, `${JSON.stringify(line)}\n`, { mode: 0o600 })
}

/**
 * The conversation to continue. A torn last line (a crash mid-append) is dropped; a damaged
 * line elsewhere is an error naming the file and line, since skipping it would change history.
 */
export async function loadTranscript(file: string): Promise<AgentMessage[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return []
    throw error
  }
  const lines = text.split('\n')
  let messages: AgentMessage[] = []
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue
    const parsed = record.safeParse(safeJson(line))
    if (!parsed.success) {
      if (index === lines.length - 1) break
      throw new SafeCoderError('INTERNAL', `${file}:${index + 1} is not a transcript record.`, {
        hint: 'The file was edited or damaged; move it aside to start the conversation afresh (the session history is kept in audit.git).',
        data: { file, line: index + 1 },
      })
    }
    if (parsed.data.type === 'message') messages.push(parsed.data.message)
    else messages = [...parsed.data.messages]
  }
  return repairDanglingCalls(messages)
}

/** Tool calls without results (a crash mid-call) get an error result, keeping the history valid. */
function repairDanglingCalls(messages: AgentMessage[]): AgentMessage[] {
  const last = messages.at(-1)
  if (last?.role !== 'assistant') return messages
  const calls = last.content.filter((p) => p.type === 'tool-call')
  if (calls.length === 0) return messages
  return [
    ...messages,
    {
      role: 'tool',
      content: calls.map((c) => ({
        type: 'tool-result' as const,
        toolCallId: c.toolCallId,
        toolName: c.toolName,
        output: 'Interrupted: Safe Coder stopped before this call finished.',
        isError: true,
      })),
    },
  ]
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line) as unknown
  } catch {
    return undefined
  }
}
