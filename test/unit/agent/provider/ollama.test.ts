import { describe, expect, test } from 'vitest'

import { createChatModel } from '../../../../src/agent/provider/index.js'
import { chatCompletionEvents } from '../../../helpers/fake-llm/index.js'
import { describeProviderContract } from './contract.js'
import { afterToolCalls, chatRequestBodies, runStep, stepRequest, useFakeLlm } from './harness.js'
import { ollamaKit as kit } from './kits.js'

describeProviderContract(kit)

describe('ollama: wire details', () => {
  const { server } = useFakeLlm()

  test('sends the exact requests to <OLLAMA_HOST>/v1 with the default model and no key', async () => {
    const s = server()
    s.enqueue(
      kit.stream(
        kit.answer([], [{ id: 'call_1', name: 'read_file', args: ['{"path":"README.md"}'] }]),
      ),
      kit.stream(kit.answer(['Done.'])),
    )
    const model = kit.createModel(s)
    expect(model.modelId).toBe('qwen2.5-coder')
    await runStep(model, stepRequest({ maxOutputTokens: 4096 }))
    await runStep(model, stepRequest({ messages: afterToolCalls, maxOutputTokens: 4096 }))

    const [first, second] = s.requests
    expect(first?.path).toBe('/v1/chat/completions')
    expect(first?.headers.authorization).toBeUndefined()
    const expected = chatRequestBodies('qwen2.5-coder')
    expect(first?.body).toEqual(expected.first)
    expect(second?.body).toEqual(expected.second)
  })

  test('tool calls that end with finish_reason "stop" (older Ollama) still finish as tool-calls', async () => {
    const s = server()
    const events = chatCompletionEvents({
      flavour: 'ollama',
      toolCalls: [{ id: 'call_9', name: 'bash', arguments: ['{"command":"ls"}'] }],
      finishReason: 'stop',
    })
    s.enqueue(kit.stream(events))
    const outcome = await runStep(kit.createModel(s), stepRequest())
    expect(outcome.error).toBeUndefined()
    expect(outcome.events).toEqual([
      { type: 'tool-call', toolCallId: 'call_9', toolName: 'bash', input: { command: 'ls' } },
      {
        type: 'finish',
        finishReason: 'tool-calls',
        usage: { inputTokens: 82, outputTokens: 41, totalTokens: 123 },
      },
    ])
  })

  test('base_url overrides OLLAMA_HOST and may be given with a scheme', async () => {
    const s = server()
    s.enqueue(kit.stream(kit.answer(['hi'])))
    const model = createChatModel({
      provider: 'ollama',
      model: 'llama3.2',
      baseUrl: s.url,
      env: { OLLAMA_HOST: '127.0.0.1:1' },
      maxRetries: 0,
      idleTimeoutMs: 30_000,
    })
    const outcome = await runStep(model, stepRequest())
    expect(outcome.error).toBeUndefined()
    expect(s.requests[0]?.path).toBe('/v1/chat/completions')
    expect(s.requests[0]?.body).toMatchObject({ model: 'llama3.2' })
  })

  test('a server that is not running: PROVIDER_FAILED with a hint about OLLAMA_HOST', async () => {
    const s = server()
    const port = new URL(s.url).port
    await s.close()
    const model = createChatModel({
      provider: 'ollama',
      env: { OLLAMA_HOST: `127.0.0.1:${port}` },
      maxRetries: 0,
      idleTimeoutMs: 30_000,
    })
    const outcome = await runStep(model, stepRequest())
    expect(outcome.error).toMatchObject({ code: 'PROVIDER_FAILED' })
    expect((outcome.error as { hint?: string }).hint).toContain('OLLAMA_HOST')
  })
})
