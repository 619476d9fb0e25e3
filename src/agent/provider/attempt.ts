import type { ReadableStreamReadResult } from 'node:stream/web'

import type { LanguageModelV3 } from '@ai-sdk/provider'
import { stepCountIs, streamText } from 'ai'
import type { FinishReason as SdkFinishReason, TextStreamPart, ToolSet } from 'ai'

import { SafeCoderError } from '../../shared/errors.js'
import { linkSignals } from '../../shared/abort.js'
import type { FinishReason, ModelStepEvent, ModelStepRequest } from '../types.js'
import { toModelMessages, toToolSet } from './convert.js'
import { StepFailure, toStepFailure } from './failure.js'
import { Watchdog } from './watchdog.js'

// The SDK prints warnings with console.warn; anything on the console corrupts the terminal UI.
globalThis.AI_SDK_LOG_WARNINGS = false

export interface AttemptOptions {
  model: LanguageModelV3
  provider: string
  request: ModelStepRequest
  idleTimeoutMs: number
  /** Set once an event that must not be repeated (text, a tool call) went to the caller. */
  state: { yielded: boolean }
}

type Part = TextStreamPart<ToolSet>
type ToolCallEvent = Extract<ModelStepEvent, { type: 'tool-call' }>

/**
 * One try at one step: a single `streamText` call with tools that have no `execute`, so the SDK
 * returns the model's tool calls and stops. Text streams out as it arrives; tool calls are held
 * back until the step has finished cleanly. Failures are thrown as StepFailure (the caller
 * decides about retrying), a fired `request.signal` as ABORTED.
 */
export async function* runAttempt(options: AttemptOptions): AsyncGenerator<ModelStepEvent> {
  const { request, state } = options
  const { controller, dispose } = linkSignals(request.signal)
  const watchdog = new Watchdog(controller, options.idleTimeoutMs)
  const interruption = (): Error | undefined => {
    if (request.signal?.aborted === true) {
      return new SafeCoderError('ABORTED', 'The model request was cancelled.', {
        cause: request.signal.reason,
      })
    }
    if (watchdog.fired) {
      const seconds = Number((options.idleTimeoutMs / 1000).toFixed(1))
      return new StepFailure(`no data from ${options.provider} for ${seconds} s`, true, {
        kind: 'idle',
      })
    }
    return undefined
  }
  let completed = false
  let reader: ReadableStreamDefaultReader<Part> | undefined
  try {
    const result = streamText({
      model: options.model,
      system: request.system,
      messages: toModelMessages(request.messages),
      tools: toToolSet(request.tools),
      ...(request.maxOutputTokens !== undefined && { maxOutputTokens: request.maxOutputTokens }),
      abortSignal: controller.signal,
      maxRetries: 0, // retries are ours (stream-step.ts): the SDK's cannot be observed
      stopWhen: stepCountIs(1),
      onError: () => undefined, // the default logs to the console; errors are read as parts below
    })
    reader = result.fullStream.getReader()
    const toolCalls: ToolCallEvent[] = []
    let finish: Extract<Part, { type: 'finish-step' }> | undefined
    for (;;) {
      let next: ReadableStreamReadResult<Part>
      try {
        next = await watchdog.read(reader)
      } catch (error) {
        throw interruption() ?? error
      }
      if (next.done) break
      const part = next.value
      switch (part.type) {
        case 'text-delta':
          if (part.text === '') break
          state.yielded = true
          yield { type: 'text-delta', text: part.text }
          break
        case 'tool-call':
          toolCalls.push(toToolCallEvent(part))
          break
        case 'error':
          throw interruption() ?? toStepFailure(part.error)
        case 'abort':
          throw (
            interruption() ?? new StepFailure('the request was aborted', true, { kind: 'stream' })
          )
        case 'finish-step':
          finish = part
          break
        default:
          break
      }
    }
    if (finish === undefined) {
      throw new StepFailure('the stream ended before the model finished its answer', true, {
        kind: 'stream',
      })
    }
    const finishReason = ourFinishReason(finish.finishReason, toolCalls.length > 0)
    if (finishReason === undefined) {
      throw new StepFailure(
        `the response was cut off or failed (finish reason "${finish.finishReason}")`,
        true,
        { kind: 'stream' },
      )
    }
    completed = true
    state.yielded ||= toolCalls.length > 0
    yield* toolCalls
    const usage = {
      inputTokens: finish.usage.inputTokens ?? 0,
      outputTokens: finish.usage.outputTokens ?? 0,
      totalTokens: finish.usage.totalTokens ?? 0,
    }
    yield { type: 'finish', finishReason, usage }
  } finally {
    watchdog.stop()
    // A failed or abandoned attempt must not leave the HTTP request running.
    if (!completed) controller.abort(new Error('step abandoned'))
    reader?.cancel().catch(() => undefined)
    dispose()
  }
}

function toToolCallEvent(part: Extract<Part, { type: 'tool-call' }>): ToolCallEvent {
  const event: ToolCallEvent = {
    type: 'tool-call',
    toolCallId: part.toolCallId,
    toolName: part.toolName,
    input: part.input,
  }
  if (part.invalid === true) event.invalid = describe(part.error)
  return event
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message
  return typeof error === 'string' ? error : 'invalid tool call'
}

/** `other`, `error` (and anything unknown) mean a truncated or failed response. */
function ourFinishReason(reason: SdkFinishReason, hasToolCalls: boolean): FinishReason | undefined {
  switch (reason) {
    case 'stop':
      // Some servers (older Ollama) say "stop" after tool calls.
      return hasToolCalls ? 'tool-calls' : 'stop'
    case 'tool-calls':
    case 'length':
    case 'content-filter':
      return reason
    default:
      return undefined
  }
}
