import { describe, expect, test } from 'vitest'

import { createChatModel } from '../../../../src/agent/provider/index.js'
import { anthropicMessageEvents } from '../../../helpers/fake-llm/index.js'
import { runStep, stepRequest, useFakeLlm } from './harness.js'

interface FetchCall {
  url: string
  body: unknown
  signal: AbortSignal | undefined
}

/** A fetch seam answering from a list of response factories, recording each call. */
function scriptedFetch(responses: (() => Response)[]): {
  fetch: typeof globalThis.fetch
  calls: FetchCall[]
} {
  const calls: FetchCall[] = []
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined
    calls.push({
      url: input instanceof Request ? input.url : input.toString(),
      body,
      signal: init?.signal ?? undefined,
    })
    const next = responses.shift()
    if (next === undefined) throw new Error('no scripted response')
    return Promise.resolve(next())
  }) as typeof globalThis.fetch
  return { fetch, calls }
}

const sse = (events: string[]): Response =>
  new Response(events.join(''), { headers: { 'content-type': 'text/event-stream' } })

function anthropic(fetch: typeof globalThis.fetch, maxRetries = 2) {
  return createChatModel({
    provider: 'anthropic',
    apiKey: 'k',
    env: {},
    maxRetries,
    idleTimeoutMs: 300,
    retryBaseDelayMs: 10,
    fetch,
  })
}

describe('streamStep', () => {
  useFakeLlm() // console guard

  test('a signal that already fired: ABORTED without any request', async () => {
    const { fetch, calls } = scriptedFetch([])
    const controller = new AbortController()
    controller.abort()
    const outcome = await runStep(anthropic(fetch), stepRequest({ signal: controller.signal }))
    expect(outcome.error).toMatchObject({ code: 'ABORTED' })
    expect(calls).toHaveLength(0)
  })

  test('abort during a retry wait: ABORTED at once', async () => {
    const { fetch, calls } = scriptedFetch([
      () => new Response('{}', { status: 503, headers: { 'retry-after': '10' } }),
    ])
    const controller = new AbortController()
    let abortedAt = 0
    const outcome = await runStep(
      anthropic(fetch),
      stepRequest({ signal: controller.signal }),
      (e) => {
        if (e.type === 'retry') {
          expect(e.delayMs).toBe(10_000)
          abortedAt = performance.now()
          controller.abort()
        }
      },
    )
    expect(outcome.error).toMatchObject({ code: 'ABORTED' })
    // The abort ends the 10 s backoff instead of sleeping through it.
    expect(performance.now() - abortedAt).toBeLessThan(5_000)
    expect(calls).toHaveLength(1)
  })

  test('a caller that stops reading early cancels the HTTP request', async () => {
    const { fetch, calls } = scriptedFetch([
      () => sse(anthropicMessageEvents({ text: ['one ', 'two ', 'three'] })),
    ])
    for await (const event of anthropic(fetch).streamStep(stepRequest())) {
      if (event.type === 'text-delta') break
    }
    expect(calls[0]?.signal?.aborted).toBe(true)
  })

  test('a replayed invalid tool call with non-object input is sent as {}', async () => {
    const { fetch, calls } = scriptedFetch([() => sse(anthropicMessageEvents({ text: ['ok'] }))])
    await runStep(
      anthropic(fetch),
      stepRequest({
        messages: [
          { role: 'user', content: 'go' },
          {
            role: 'assistant',
            content: [
              { type: 'tool-call', toolCallId: 't1', toolName: 'read_file', input: '{"path": ' },
            ],
          },
          {
            role: 'tool',
            content: [
              {
                type: 'tool-result',
                toolCallId: 't1',
                toolName: 'read_file',
                output: 'Invalid input: not JSON',
                isError: true,
              },
            ],
          },
        ],
      }),
    )
    expect(calls[0]?.body).toMatchObject({
      messages: [
        { role: 'user' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', input: {} }] },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 't1',
              content: 'Invalid input: not JSON',
              is_error: true,
            },
          ],
        },
      ],
    })
  })

  test('a request the SDK rejects (no messages) fails at once, without retries or requests', async () => {
    const { fetch, calls } = scriptedFetch([])
    const outcome = await runStep(anthropic(fetch), stepRequest({ messages: [] }))
    expect(outcome.error).toMatchObject({ code: 'PROVIDER_FAILED', data: { attempts: 1 } })
    expect(outcome.events).toEqual([])
    expect(calls).toHaveLength(0)
  })

  test('a finish reason of max_tokens is reported as length, not a failure', async () => {
    const { fetch } = scriptedFetch([
      () => sse(anthropicMessageEvents({ text: ['cut'], stopReason: 'max_tokens' })),
    ])
    const outcome = await runStep(anthropic(fetch), stepRequest())
    expect(outcome.error).toBeUndefined()
    expect(outcome.events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'length' })
  })
})
