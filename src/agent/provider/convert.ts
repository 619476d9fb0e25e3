import { tool } from 'ai'
import type { AssistantModelMessage, ModelMessage, ToolModelMessage, ToolSet } from 'ai'

import type { AgentMessage, AssistantMessage, ToolMessage, ToolSpec } from '../types.js'

/** Our transcript messages as the AI SDK's ModelMessages. */
export function toModelMessages(messages: readonly AgentMessage[]): ModelMessage[] {
  return messages.map((message): ModelMessage => {
    switch (message.role) {
      case 'user':
        return { role: 'user', content: message.content }
      case 'assistant':
        return toAssistantMessage(message)
      case 'tool':
        return toToolMessage(message)
    }
  })
}

function toAssistantMessage(message: AssistantMessage): AssistantModelMessage {
  return {
    role: 'assistant',
    content: message.content.map((part) =>
      part.type === 'text'
        ? { type: 'text', text: part.text }
        : {
            type: 'tool-call',
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            input: replayableInput(part.input),
          },
    ),
  }
}

/**
 * A tool call's input as sent back to the provider. An invalid call may have kept its raw
 * (non-JSON) arguments as a string; providers such as Anthropic reject a tool_use whose input
 * is not an object, so that becomes `{}` — the paired tool result already says what was wrong.
 */
function replayableInput(input: unknown): unknown {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {}
}

function toToolMessage(message: ToolMessage): ToolModelMessage {
  return {
    role: 'tool',
    content: message.content.map((part) => ({
      type: 'tool-result',
      toolCallId: part.toolCallId,
      toolName: part.toolName,
      output: part.isError
        ? { type: 'error-text', value: part.output }
        : { type: 'text', value: part.output },
    })),
  }
}

/**
 * Our tool specs as SDK tools WITHOUT `execute`: the SDK then returns the calls to us and the
 * step ends, so the agent loop (not the SDK) runs every tool.
 */
export function toToolSet(specs: readonly ToolSpec[]): ToolSet | undefined {
  if (specs.length === 0) return undefined
  const tools: ToolSet = {}
  for (const spec of specs) {
    tools[spec.name] = tool({ description: spec.description, inputSchema: spec.inputSchema })
  }
  return tools
}
