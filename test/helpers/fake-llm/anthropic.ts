/**
 * Anthropic Messages API streaming (`POST /v1/messages`), as documented at
 * https://docs.anthropic.com/en/docs/build-with-claude/streaming: named SSE events
 * message_start, content_block_start/delta/stop (text_delta, input_json_delta), message_delta
 * (stop_reason + usage), message_stop, ping, and `error`.
 */
import type { ScriptedResponse } from './server.js'
import { streamOf } from './sse.js'
import type { StreamEnd } from './sse.js'

export function anthropicEvent(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
}

export interface AnthropicToolUse {
  id: string
  name: string
  /** The input JSON as the model streams it, in pieces (may be invalid JSON on purpose). */
  partialJson: string[]
}

export interface AnthropicMessageOptions {
  text?: string[]
  toolUses?: AnthropicToolUse[]
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence'
  inputTokens?: number
  outputTokens?: number
  model?: string
}

/** The events of one complete assistant message, in wire order. */
export function anthropicMessageEvents(options: AnthropicMessageOptions): string[] {
  const { text = [], toolUses = [] } = options
  const events = [
    anthropicEvent('message_start', {
      message: {
        id: 'msg_014p7gG3wDgGV9EUtLvnow3U',
        type: 'message',
        role: 'assistant',
        model: options.model ?? 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: options.inputTokens ?? 472, output_tokens: 2 },
      },
    }),
  ]
  let index = 0
  if (text.length > 0) {
    events.push(
      anthropicEvent('content_block_start', {
        index,
        content_block: { type: 'text', text: '' },
      }),
      anthropicEvent('ping', {}),
      ...text.map((piece) =>
        anthropicEvent('content_block_delta', {
          index,
          delta: { type: 'text_delta', text: piece },
        }),
      ),
      anthropicEvent('content_block_stop', { index }),
    )
    index++
  }
  for (const use of toolUses) {
    events.push(
      anthropicEvent('content_block_start', {
        index,
        content_block: { type: 'tool_use', id: use.id, name: use.name, input: {} },
      }),
      ...['', ...use.partialJson].map((piece) =>
        anthropicEvent('content_block_delta', {
          index,
          delta: { type: 'input_json_delta', partial_json: piece },
        }),
      ),
      anthropicEvent('content_block_stop', { index }),
    )
    index++
  }
  const stopReason = options.stopReason ?? (toolUses.length > 0 ? 'tool_use' : 'end_turn')
  events.push(
    anthropicEvent('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: options.outputTokens ?? 89 },
    }),
    anthropicEvent('message_stop', {}),
  )
  return events
}

/** An in-stream `error` event, e.g. overloaded_error. */
export function anthropicErrorEvent(type = 'overloaded_error', message = 'Overloaded'): string {
  return anthropicEvent('error', { error: { type, message } })
}

export function anthropicStream(
  events: string[],
  options: { end?: StreamEnd; delayMs?: number } = {},
): ScriptedResponse {
  return streamOf(events, options)
}

/** An HTTP error with Anthropic's JSON error body. */
export function anthropicHttpError(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): ScriptedResponse {
  return {
    type: 'json',
    status,
    headers: { 'request-id': 'req_fake', ...headers },
    body: { type: 'error', error: { type, message } },
  }
}
