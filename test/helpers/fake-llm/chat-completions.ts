/**
 * OpenAI Chat Completions streaming (`POST /v1/chat/completions`), as OpenAI and Ollama's
 * OpenAI-compatible endpoint send it: `data: {chunk}` lines with choices[0].delta.content /
 * delta.tool_calls, a finish_reason, a usage chunk with empty choices (stream_options
 * include_usage), then `data: [DONE]`.
 *
 * Flavours differ as the real servers do: OpenAI streams tool-call arguments in pieces after a
 * first delta carrying id and name; Ollama sends each tool call whole in one delta, repeats
 * `role` in every delta and reports `system_fingerprint: "fp_ollama"`.
 */
import type { ScriptedResponse } from './server.js'
import { dataLine, streamOf } from './sse.js'
import type { StreamEnd } from './sse.js'

export type ChatFlavour = 'openai' | 'ollama'

export interface ChatToolCall {
  id: string
  name: string
  /** The arguments JSON in the pieces OpenAI would stream (Ollama sends them joined). */
  arguments: string[]
}

export interface ChatCompletionOptions {
  flavour: ChatFlavour
  text?: string[]
  toolCalls?: ChatToolCall[]
  finishReason?: 'stop' | 'tool_calls' | 'length' | 'content_filter'
  promptTokens?: number
  completionTokens?: number
  model?: string
}

export function chatChunk(
  flavour: ChatFlavour,
  delta: Record<string, unknown> | undefined,
  finishReason: string | null = null,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const ollama = flavour === 'ollama'
  return {
    id: ollama ? 'chatcmpl-479' : 'chatcmpl-AbC123',
    object: 'chat.completion.chunk',
    created: 1731000000,
    model: ollama ? 'qwen2.5-coder' : 'gpt-4.1-2025-04-14',
    system_fingerprint: ollama ? 'fp_ollama' : 'fp_0ba0d124f1',
    choices:
      delta === undefined
        ? []
        : [
            ollama
              ? { index: 0, delta: { role: 'assistant', ...delta }, finish_reason: finishReason }
              : { index: 0, logprobs: null, finish_reason: finishReason, delta },
          ],
    ...(ollama ? {} : { usage: null }),
    ...extra,
  }
}

/** The `data:` lines of one complete streamed completion, ending with `data: [DONE]`. */
export function chatCompletionEvents(options: ChatCompletionOptions): string[] {
  const { flavour, text = [], toolCalls = [] } = options
  const lines: string[] = []
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): void => {
    lines.push(dataLine(chatChunk(flavour, delta, finish)))
  }
  if (flavour === 'openai') chunk({ role: 'assistant', content: '', refusal: null })
  for (const piece of text) chunk({ content: piece })
  toolCalls.forEach((call, index) => {
    if (flavour === 'ollama') {
      chunk({
        content: '',
        tool_calls: [
          {
            id: call.id,
            index,
            type: 'function',
            function: { name: call.name, arguments: call.arguments.join('') },
          },
        ],
      })
      return
    }
    chunk({
      tool_calls: [
        { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
      ],
    })
    for (const piece of call.arguments) {
      chunk({ tool_calls: [{ index, function: { arguments: piece } }] })
    }
  })
  const finish = options.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop')
  chunk(flavour === 'ollama' ? { content: '' } : {}, finish)
  const prompt = options.promptTokens ?? 82
  const completion = options.completionTokens ?? 41
  lines.push(
    dataLine(
      chatChunk(flavour, undefined, null, {
        usage: {
          prompt_tokens: prompt,
          completion_tokens: completion,
          total_tokens: prompt + completion,
        },
      }),
    ),
    dataLine('[DONE]'),
  )
  return lines
}

/** An in-stream error chunk, as OpenAI (and Ollama) send when generation fails mid-way. */
export function chatErrorLine(message = 'The server had an error', type = 'server_error'): string {
  return dataLine({ error: { message, type, param: null, code: null } })
}

export function chatStream(
  lines: string[],
  options: { end?: StreamEnd; delayMs?: number } = {},
): ScriptedResponse {
  return streamOf(lines, options)
}

/** An HTTP error with the OpenAI-style JSON error body (Ollama uses the same shape). */
export function chatHttpError(
  status: number,
  message: string,
  type = 'server_error',
  headers: Record<string, string> = {},
): ScriptedResponse {
  return {
    type: 'json',
    status,
    headers,
    body: { error: { message, type, param: null, code: null } },
  }
}
