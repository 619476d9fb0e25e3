import { describe, expect, test } from 'vitest'

import {
  anthropicErrorEvent,
  anthropicHttpError,
  anthropicStream,
} from '../../../helpers/fake-llm/index.js'
import { describeProviderContract } from './contract.js'
import {
  afterToolCalls,
  bashSchema,
  readFileSchema,
  runStep,
  stepRequest,
  textOf,
  useFakeLlm,
} from './harness.js'
import { anthropicKit as kit } from './kits.js'

describeProviderContract(kit)

describe('anthropic: wire details', () => {
  const { server } = useFakeLlm()

  test('sends the exact Messages API requests for a tool round trip', async () => {
    const s = server()
    s.enqueue(
      kit.stream(
        kit.answer(
          ['Reading.'],
          [{ id: 'toolu_1', name: 'read_file', args: ['{"path":"README.md"}'] }],
        ),
      ),
      kit.stream(kit.answer(['Done.'])),
    )
    const model = kit.createModel(s)
    await runStep(model, stepRequest({ maxOutputTokens: 4096 }))
    await runStep(model, stepRequest({ messages: afterToolCalls, maxOutputTokens: 4096 }))

    const [first, second] = s.requests
    expect(first?.path).toBe('/v1/messages')
    expect(first?.headers['x-api-key']).toBe('sk-ant-test')
    expect(first?.headers['anthropic-version']).toBe('2023-06-01')
    const common = {
      model: 'claude-test',
      max_tokens: 4096,
      system: [{ type: 'text', text: 'You are Safe Coder.' }],
      tools: [
        {
          name: 'read_file',
          description: 'Read a file',
          input_schema: readFileSchema,
          eager_input_streaming: true,
        },
        {
          name: 'bash',
          description: 'Run a command',
          input_schema: bashSchema,
          eager_input_streaming: true,
        },
      ],
      tool_choice: { type: 'auto' },
      stream: true,
    }
    const question = { role: 'user', content: [{ type: 'text', text: 'What does README.md say?' }] }
    expect(first?.body).toEqual({ ...common, messages: [question] })
    expect(second?.body).toEqual({
      ...common,
      messages: [
        question,
        {
          role: 'assistant',
          content: [
            { type: 'text', text: "I'll read the file." },
            { type: 'tool_use', id: 'call_1', name: 'read_file', input: { path: 'README.md' } },
            { type: 'tool_use', id: 'call_2', name: 'bash', input: { command: 'ls' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: '# README\nhello\n' },
            {
              type: 'tool_result',
              tool_use_id: 'call_2',
              content: 'ls: permission denied',
              is_error: true,
            },
          ],
        },
      ],
    })
  })

  test('an overloaded_error event before any output is retried like a 529', async () => {
    const s = server()
    s.enqueue(
      anthropicStream([...kit.upToFirstText(['x']).slice(0, 1), anthropicErrorEvent()]),
      kit.stream(kit.answer(['recovered'])),
    )
    const outcome = await runStep(kit.createModel(s), stepRequest())
    expect(outcome.error).toBeUndefined()
    const retry = outcome.events[0]
    expect(retry).toMatchObject({ type: 'retry', attempt: 1 })
    expect(retry?.type === 'retry' && retry.reason).toMatch(/^HTTP 529: .*Overloaded/)
    expect(textOf(outcome.events)).toBe('recovered')
  })

  test('HTTP 529 overloaded responses are retried, then reported with the status', async () => {
    const s = server()
    const overloaded = anthropicHttpError(529, 'overloaded_error', 'Overloaded')
    s.enqueue(overloaded, overloaded, overloaded)
    const outcome = await runStep(kit.createModel(s), stepRequest())
    expect(outcome.error).toMatchObject({ code: 'PROVIDER_FAILED' })
    expect(String(outcome.error)).toContain(
      'anthropic model claude-test failed with HTTP 529 after 3 attempts: Overloaded',
    )
    expect(s.requests).toHaveLength(3)
  })
})
