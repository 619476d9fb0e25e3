import { describe, expect, test } from 'vitest'

import { describeProviderContract } from './contract.js'
import { afterToolCalls, chatRequestBodies, runStep, stepRequest, useFakeLlm } from './harness.js'
import { openaiCompatibleKit as kit } from './kits.js'

describeProviderContract(kit)

describe('openai-compatible: wire details', () => {
  const { server } = useFakeLlm()

  test('sends the exact Chat Completions requests to base_url, without a key by default', async () => {
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
    expect(first?.headers.authorization).toBeUndefined()
    const expected = chatRequestBodies('local-coder')
    expect(first?.body).toEqual(expected.first)
    expect(second?.body).toEqual(expected.second)
  })

  test('uses OPENAI_API_KEY when set, and an explicit api_key over it', async () => {
    const s = server()
    s.enqueue(kit.stream(kit.answer(['a'])), kit.stream(kit.answer(['b'])))
    await runStep(kit.createModel(s, { env: { OPENAI_API_KEY: 'sk-env' } }), stepRequest())
    await runStep(
      kit.createModel(s, { env: { OPENAI_API_KEY: 'sk-env' }, apiKey: 'sk-config' }),
      stepRequest(),
    )
    expect(s.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer sk-env',
      'Bearer sk-config',
    ])
  })
})
