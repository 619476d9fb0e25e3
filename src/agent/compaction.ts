import { SafeCoderError } from '../shared/errors.js'
import type { AgentMessage, ChatModel, ToolMessage, Usage } from './types.js'
import { zeroUsage } from './usage.js'

/** Share of the context window the conversation may fill before it is compacted. */
const COMPACT_AT = 0.8
/** The newest tool-result messages keep their full outputs. */
const KEEP_RECENT_RESULTS = 2
const PRUNED = '[output pruned to save context; run the tool again if you need it]'

export interface CompactionResult {
  messages: AgentMessage[]
  stage: 'pruned' | 'summarised'
  beforeTokens: number
  afterTokens: number
  usage?: Usage
}

/** Rough token count of a conversation: four characters a token, as providers' guides suggest. */
export function estimateTokens(system: string, messages: AgentMessage[]): number {
  return Math.ceil((system.length + JSON.stringify(messages).length) / 4)
}

/** The token budget for input: what is left of the window after the model's own output. */
export function inputBudget(model: ChatModel, maxOutputTokens: number): number {
  return Math.max(1024, Math.floor(model.contextTokens * COMPACT_AT) - maxOutputTokens)
}

/**
 * Keeps the conversation inside the model's window: first replaces old tool outputs with a
 * marker, then — if that is not enough — asks the model to summarise everything before the
 * latest user message. Returns undefined when the conversation already fits.
 */
export async function compactIfNeeded(options: {
  model: ChatModel
  system: string
  messages: AgentMessage[]
  budget: number
  /** Tokens the provider reported for the previous prompt, when known (more exact than ours). */
  measured?: number
  signal?: AbortSignal
}): Promise<CompactionResult | undefined> {
  const { model, system, budget } = options
  const before = Math.max(options.measured ?? 0, estimateTokens(system, options.messages))
  if (before <= budget) return undefined
  const pruned = pruneToolOutputs(options.messages)
  const afterPrune = estimateTokens(system, pruned)
  if (afterPrune <= budget) {
    return { messages: pruned, stage: 'pruned', beforeTokens: before, afterTokens: afterPrune }
  }
  const cut = pruned.findLastIndex((m) => m.role === 'user')
  if (cut <= 0) {
    throw new SafeCoderError(
      'PROVIDER_FAILED',
      `The conversation (${afterPrune} tokens) does not fit the model's window even after pruning tool outputs.`,
      {
        hint: 'Start a new session, or set [llm] context_tokens if the model has a larger window.',
      },
    )
  }
  const { summary, usage } = await summarise(model, pruned.slice(0, cut), options.signal)
  const messages: AgentMessage[] = [
    { role: 'user', content: `Summary of the conversation so far:\n\n${summary}` },
    { role: 'assistant', content: [{ type: 'text', text: 'Understood; continuing from there.' }] },
    ...pruned.slice(cut),
  ]
  return {
    messages,
    stage: 'summarised',
    beforeTokens: before,
    afterTokens: estimateTokens(system, messages),
    usage,
  }
}

/** Replaces the outputs of all but the newest tool-result messages with a short marker. */
export function pruneToolOutputs(messages: AgentMessage[]): AgentMessage[] {
  const toolIndexes = messages.flatMap((m, i) => (m.role === 'tool' ? [i] : []))
  const keep = new Set(toolIndexes.slice(-KEEP_RECENT_RESULTS))
  return messages.map((m, i): AgentMessage => {
    if (m.role !== 'tool' || keep.has(i)) return m
    const content = m.content.map((part) =>
      part.output.length > PRUNED.length * 2 ? { ...part, output: PRUNED } : part,
    )
    return { role: 'tool', content } satisfies ToolMessage
  })
}

async function summarise(
  model: ChatModel,
  messages: AgentMessage[],
  signal: AbortSignal | undefined,
): Promise<{ summary: string; usage: Usage }> {
  let summary = ''
  let usage: Usage = zeroUsage
  const request = {
    system:
      'You summarise a coding session so it can continue in a smaller context. Keep: the user goals, decisions, files changed and why, commands run and their results, open problems. Be concise.',
    messages: [{ role: 'user' as const, content: renderTranscript(messages) }],
    tools: [],
    ...(signal === undefined ? {} : { signal }),
  }
  for await (const event of model.streamStep(request)) {
    if (event.type === 'text-delta') summary += event.text
    else if (event.type === 'finish') usage = event.usage
  }
  return { summary: summary.trim(), usage }
}

function renderTranscript(messages: AgentMessage[]): string {
  const lines: string[] = ['Summarise this session:', '']
  for (const m of messages) {
    if (m.role === 'user') lines.push(`USER: ${m.content}`)
    else if (m.role === 'assistant') {
      for (const part of m.content) {
        lines.push(
          part.type === 'text'
            ? `ASSISTANT: ${part.text}`
            : `TOOL CALL ${part.toolName}: ${JSON.stringify(part.input)}`,
        )
      }
    } else {
      for (const part of m.content) {
        lines.push(`TOOL RESULT ${part.toolName}${part.isError ? ' (error)' : ''}: ${part.output}`)
      }
    }
  }
  return lines.join('\n')
}
