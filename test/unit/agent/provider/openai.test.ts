import { describe, expect, test } from 'vitest'

import { chatErrorLine, chatHttpError } from '../../../helpers/fake-llm/index.js'
import { describeProviderContract } from './contract.js'
import {
  afterToolCalls,
  chatRequestBodies,
  runStep,
  stepRequest,
  textOf,
  useFakeLlm,
} from './harness.js'
import { openaiKit as kit } from './kits.js'

describeProviderContract(kit)

describe('openai: wire details', () => {
  const { server } = useFakeLlm()

  test('sends the exact Chat Completions requests for a tool round trip', async () => {
    const s = server()
    s.enqueue(
      kit.stream(
        kit.answer([], [{ id: 'call_1', name: 'read_file', args: ['{"path":"README.md"}'] }]),
      ),
      kit.stream(kit.answer(['Done.'])),
    )
    const model = kit.createModel(s)
    await runStep(model, stepRequest({ maxOutputTokens: 4096 }))
    await runStep(model, stepRequest({ messages: afterToolCalls, maxOutputTokens: 4096 }))

    const [first, second] = s.requests
    expect(first?.path).toBe('/v1/chat/completions')
    expect(first?.headers.authorization).toBe('Bearer sk-test')
    const expected = chatRequestBodies('gpt-test')
    expect(first?.body).toEqual(expected.first)
    expect(second?.body).toEqual(expected.second)
  })

  test('retry-after-ms is honoured', async () => {
    const s = server()
    s.enqueue(
      chatHttpError(503, 'Service unavailable', 'server_error', { 'retry-after-ms': '150' }),
      kit.stream(kit.answer(['ok'])),
    )
    const outcome = await runStep(kit.createModel(s), stepRequest())
    expect(outcome.events[0]).toEqual({
      type: 'retry',
      attempt: 1,
      delayMs: 150,
      reason: 'HTTP 503: Service unavailable',
    })
    expect(textOf(outcome.events)).toBe('ok')
    const [first, second] = s.requests
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(145)
  })

  test('a retry-after beyond 60 s fails at once instead of waiting', async () => {
    const s = server()
    s.enqueue(kit.httpError(429, { 'retry-after': '3600' }))
    const outcome = await runStep(kit.createModel(s), stepRequest())
    expect(outcome.error).toMatchObject({ code: 'PROVIDER_FAILED' })
    expect(String(outcome.error)).toContain('it asked to retry after 3600 s')
    expect(s.requests).toHaveLength(1)
  })

  test('an error chunk before any output is retried', async () => {
    const s = server()
    s.enqueue(
      kit.stream([chatErrorLine('The server is overloaded', 'server_error')]),
      kit.stream(kit.answer(['ok'])),
    )
    const outcome = await runStep(kit.createModel(s), stepRequest())
    expect(outcome.error).toBeUndefined()
    expect(outcome.events.map((e) => e.type)).toEqual(['retry', 'text-delta', 'finish'])
    expect(s.requests).toHaveLength(2)
  })

  test('insufficient_quota is a 429 that is not retried', async () => {
    const s = server()
    s.enqueue(chatHttpError(429, 'You exceeded your current quota', 'insufficient_quota'))
    const outcome = await runStep(kit.createModel(s), stepRequest())
    expect(outcome.error).toMatchObject({ code: 'PROVIDER_FAILED' })
    expect(s.requests).toHaveLength(1)
  })
})
