import { afterEach, beforeEach, expect, vi } from 'vitest'
import type { MockInstance } from 'vitest'
import { z } from 'zod'

import type {
  AgentMessage,
  ChatModel,
  ModelStepEvent,
  ModelStepRequest,
  ToolSpec,
} from '../../../../src/agent/types.js'
import { startFakeLlm } from '../../../helpers/fake-llm/index.js'
import type { FakeLlmServer } from '../../../helpers/fake-llm/index.js'

export const tools: ToolSpec[] = [
  { name: 'read_file', description: 'Read a file', inputSchema: z.object({ path: z.string() }) },
  { name: 'bash', description: 'Run a command', inputSchema: z.object({ command: z.string() }) },
]

export const system = 'You are Safe Coder.'
export const question: AgentMessage = { role: 'user', content: 'What does README.md say?' }

/** The conversation after step 1: a text part, two tool calls, one ok and one failed result. */
export const afterToolCalls: AgentMessage[] = [
  question,
  {
    role: 'assistant',
    content: [
      { type: 'text', text: "I'll read the file." },
      {
        type: 'tool-call',
        toolCallId: 'call_1',
        toolName: 'read_file',
        input: { path: 'README.md' },
      },
      { type: 'tool-call', toolCallId: 'call_2', toolName: 'bash', input: { command: 'ls' } },
    ],
  },
  {
    role: 'tool',
    content: [
      {
        type: 'tool-result',
        toolCallId: 'call_1',
        toolName: 'read_file',
        output: '# README\nhello\n',
        isError: false,
      },
      {
        type: 'tool-result',
        toolCallId: 'call_2',
        toolName: 'bash',
        output: 'ls: permission denied',
        isError: true,
      },
    ],
  },
]

export function stepRequest(overrides: Partial<ModelStepRequest> = {}): ModelStepRequest {
  return { system, messages: [question], tools, ...overrides }
}

export interface StepOutcome {
  events: ModelStepEvent[]
  error: unknown
  elapsedMs: number
}

/** Runs one step to its end, collecting events and the error it threw (if any). */
export async function runStep(
  model: ChatModel,
  request: ModelStepRequest,
  onEvent?: (event: ModelStepEvent) => void,
): Promise<StepOutcome> {
  const events: ModelStepEvent[] = []
  const started = performance.now()
  let error: unknown
  try {
    for await (const event of model.streamStep(request)) {
      events.push(event)
      onEvent?.(event)
    }
  } catch (caught) {
    error = caught
  }
  return { events, error, elapsedMs: performance.now() - started }
}

const consoleMethods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const

/**
 * Starts a fake server per test and fails the test if anything was written to the console
 * (it would corrupt the terminal UI).
 */
export function useFakeLlm(): { server: () => FakeLlmServer } {
  let current: FakeLlmServer | undefined
  let spies: MockInstance[] = []
  beforeEach(async () => {
    spies = consoleMethods.map((method) =>
      vi.spyOn(console, method).mockImplementation(() => undefined),
    )
    current = await startFakeLlm()
  })
  afterEach(async () => {
    await current?.close()
    current = undefined
    for (const spy of spies) {
      expect(spy.mock.calls, `console.${spy.getMockName()} was called`).toEqual([])
      spy.mockRestore()
    }
  })
  return {
    server: () => {
      if (current === undefined) throw new Error('no fake server')
      return current
    },
  }
}

export function textOf(events: ModelStepEvent[]): string {
  return events.map((e) => (e.type === 'text-delta' ? e.text : '')).join('')
}

/** The JSON schemas the SDK derives from `tools` (zod → draft-07), as they go on the wire. */
export const readFileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { path: { type: 'string' } },
  required: ['path'],
  additionalProperties: false,
}
export const bashSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { command: { type: 'string' } },
  required: ['command'],
  additionalProperties: false,
}

/** Chat Completions request bodies (OpenAI, openai-compatible and Ollama send the same shape). */
export function chatRequestBodies(model: string): { first: unknown; second: unknown } {
  const common = {
    model,
    max_tokens: 4096,
    tools: [
      {
        type: 'function',
        function: { name: 'read_file', description: 'Read a file', parameters: readFileSchema },
      },
      {
        type: 'function',
        function: { name: 'bash', description: 'Run a command', parameters: bashSchema },
      },
    ],
    tool_choice: 'auto',
    stream: true,
    stream_options: { include_usage: true },
  }
  const opening = [
    { role: 'system', content: 'You are Safe Coder.' },
    { role: 'user', content: 'What does README.md say?' },
  ]
  return {
    first: { ...common, messages: opening },
    second: {
      ...common,
      messages: [
        ...opening,
        {
          role: 'assistant',
          content: "I'll read the file.",
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'read_file', arguments: '{"path":"README.md"}' },
            },
            {
              id: 'call_2',
              type: 'function',
              function: { name: 'bash', arguments: '{"command":"ls"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '# README\nhello\n' },
        { role: 'tool', tool_call_id: 'call_2', content: 'ls: permission denied' },
      ],
    },
  }
}
