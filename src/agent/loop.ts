import { isSafeCoderError, SafeCoderError } from '../shared/errors.js'
import { compactIfNeeded, inputBudget, type CompactionResult } from './compaction.js'
import { toolSpecs } from './tools/index.js'
import type { Tool } from './tools/types.js'
import type {
  AgentMessage,
  AssistantMessage,
  AssistantPart,
  ChatModel,
  FinishReason,
  ModelStepEvent,
  ToolMessage,
  ToolResultPart,
  Usage,
} from './types.js'
import { addUsage, zeroUsage } from './usage.js'

/** The same call this many times in a row is a loop, not progress. */
const MAX_IDENTICAL_CALLS = 4

/** What a turn reports while it runs; the session turns these into bus events. */
export type TurnEvent =
  | { type: 'text'; text: string }
  | { type: 'retry'; attempt: number; delayMs: number; reason: string }
  | { type: 'step'; step: number; finishReason: FinishReason; usage: Usage }
  | { type: 'compacted'; result: CompactionResult }
  | { type: 'message'; message: AgentMessage }

/** One tool call the model made, valid and known, for the session to run. */
export interface ToolCallRequest {
  callId: string
  tool: Tool
  input: unknown
}

export interface TurnOptions {
  model: ChatModel
  tools: Tool[]
  system: string
  /** The conversation so far, ending with the new user message. */
  messages: AgentMessage[]
  signal: AbortSignal
  maxSteps: number
  maxOutputTokens: number
  emit: (event: TurnEvent) => void
  /**
   * Runs one call: approval, the sandbox, the commit. Returns what the model reads. Throws only
   * for infrastructure failures (the turn then fails) or ABORTED.
   */
  runTool: (
    call: ToolCallRequest,
  ) => Promise<Omit<ToolResultPart, 'type' | 'toolCallId' | 'toolName'>>
}

export interface TurnResult {
  /** The whole conversation after the turn (compaction may have rewritten its start). */
  messages: AgentMessage[]
  usage: Usage
  steps: number
  finishReason: FinishReason
  text: string
}

/**
 * One user turn: model step, tool calls, model step… until the model answers without calling
 * a tool. One `streamStep` at a time inside our own loop, so every call is run, recorded and
 * visible before the next step, and a step limit, loop detection and compaction apply.
 *
 * @throws SafeCoderError STEP_LIMIT, PROVIDER_FAILED, ABORTED, or a sandbox failure. The
 * messages emitted before the failure stay valid for the next turn (every tool call has a result).
 */
export async function runTurn(options: TurnOptions): Promise<TurnResult> {
  const { model, system, signal, emit } = options
  const specs = toolSpecs(options.tools)
  const byName = new Map(options.tools.map((t) => [t.name, t]))
  let messages = [...options.messages]
  let usage = zeroUsage
  let measured: number | undefined
  let lastText = ''
  const repeats = { key: '', count: 0 }
  const add = (message: AgentMessage): void => {
    messages.push(message)
    emit({ type: 'message', message })
  }

  for (let step = 1; step <= options.maxSteps; step++) {
    const compacted = await compactIfNeeded({
      model,
      system,
      messages,
      budget: inputBudget(model, options.maxOutputTokens),
      ...(measured === undefined ? {} : { measured }),
      signal,
    })
    if (compacted !== undefined) {
      messages = compacted.messages
      if (compacted.usage !== undefined) usage = addUsage(usage, compacted.usage)
      emit({ type: 'compacted', result: compacted })
    }

    const calls: ToolCallEvent[] = []
    let text = ''
    let finish: { reason: FinishReason; usage: Usage } | undefined
    try {
      for await (const event of model.streamStep({
        system,
        messages,
        tools: specs,
        maxOutputTokens: options.maxOutputTokens,
        signal,
      })) {
        if (event.type === 'text-delta') {
          text += event.text
          emit({ type: 'text', text: event.text })
        } else if (event.type === 'tool-call') {
          calls.push(event)
        } else if (event.type === 'retry') {
          emit(event)
        } else {
          finish = { reason: event.finishReason, usage: event.usage }
        }
      }
    } catch (error) {
      // Keep what the user already saw; tool calls without results would poison the history.
      if (text !== '') add({ role: 'assistant', content: [{ type: 'text', text }] })
      throw error
    }
    if (finish === undefined) {
      throw new SafeCoderError(
        'PROVIDER_FAILED',
        `${model.provider} ended a response without finishing it.`,
      )
    }
    usage = addUsage(usage, finish.usage)
    measured = finish.usage.inputTokens + finish.usage.outputTokens || undefined
    emit({ type: 'step', step, finishReason: finish.reason, usage: finish.usage })
    const assistant: AssistantMessage = {
      role: 'assistant',
      content: [
        ...(text === '' ? [] : [{ type: 'text' as const, text }]),
        ...calls.map(stripInvalid),
      ],
    }
    if (text !== '') lastText = text
    if (assistant.content.length > 0) add(assistant)
    if (calls.length === 0) {
      return { messages, usage, steps: step, finishReason: finish.reason, text: lastText }
    }

    const results: ToolResultPart[] = []
    try {
      for (const call of calls) {
        const base = {
          type: 'tool-result' as const,
          toolCallId: call.toolCallId,
          toolName: call.toolName,
        }
        const tool = byName.get(call.toolName)
        if (call.invalid !== undefined || tool === undefined) {
          const why =
            call.invalid ??
            `There is no tool named "${call.toolName}". Available: ${[...byName.keys()].join(', ')}.`
          results.push({ ...base, output: why, isError: true })
          continue
        }
        const key = `${call.toolName}\u0000${JSON.stringify(call.input)}`
        repeats.count = repeats.key === key ? repeats.count + 1 : 1
        repeats.key = key
        if (repeats.count > MAX_IDENTICAL_CALLS) {
          throw new SafeCoderError(
            'STEP_LIMIT',
            `The model made the same ${call.toolName} call ${repeats.count} times in a row; stopped it.`,
            { hint: 'Rephrase the request or give the model more specific guidance.' },
          )
        }
        results.push({
          ...base,
          ...(await options.runTool({ callId: call.toolCallId, tool, input: call.input })),
        })
      }
    } catch (error) {
      // Every call in the assistant message gets a result, so the history stays valid.
      const reason = isSafeCoderError(error, 'ABORTED')
        ? 'Cancelled by the user.'
        : 'Not run: the turn failed.'
      for (const call of calls.slice(results.length)) {
        results.push({
          type: 'tool-result',
          toolCallId: call.toolCallId,
          toolName: call.toolName,
          output: reason,
          isError: true,
        })
      }
      add({ role: 'tool', content: results } satisfies ToolMessage)
      throw error
    }
    add({ role: 'tool', content: results } satisfies ToolMessage)
  }
  throw new SafeCoderError(
    'STEP_LIMIT',
    `The turn reached the step limit (${options.maxSteps} model steps) without an answer.`,
    { hint: 'Raise [agent] max_steps, or split the task into smaller requests.' },
  )
}

type ToolCallEvent = Extract<ModelStepEvent, { type: 'tool-call' }>

function stripInvalid(part: ToolCallEvent): AssistantPart {
  return {
    type: 'tool-call',
    toolCallId: part.toolCallId,
    toolName: part.toolName,
    input: part.input,
  }
}
