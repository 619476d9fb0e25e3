/** The behaviour every provider must show, run against each provider's wire protocol. */
import { describe, expect, test } from 'vitest'

import { isSafeCoderError } from '../../../../src/shared/errors.js'
import type { SafeCoderError } from '../../../../src/shared/errors.js'
import { afterToolCalls, runStep, stepRequest, textOf, useFakeLlm } from './harness.js'
import type { WireKit } from './kits.js'

function expectCode(error: unknown, code: 'PROVIDER_FAILED' | 'ABORTED'): SafeCoderError {
  expect(isSafeCoderError(error), String(error)).toBe(true)
  const failure = error as SafeCoderError
  expect(failure.code).toBe(code)
  return failure
}

export function describeProviderContract(kit: WireKit): void {
  describe(`${kit.provider}: provider contract`, () => {
    const { server } = useFakeLlm()

    test('a tool round trip: tool calls with parsed input, then the final text', async () => {
      const s = server()
      s.enqueue(
        kit.stream(
          kit.answer(
            ["I'll read", ' the file.'],
            [
              { id: 'call_1', name: 'read_file', args: ['{"path": "READ', 'ME.md"}'] },
              { id: 'call_2', name: 'bash', args: ['{"command":', ' "ls"}'] },
            ],
          ),
        ),
        kit.stream(kit.answer(['The README says ', 'hello.'])),
      )
      const model = kit.createModel(s)
      expect(model.provider).toBe(kit.provider)
      expect(model.modelId).toBe(kit.modelId)

      const first = await runStep(model, stepRequest())
      expect(first.error).toBeUndefined()
      expect(textOf(first.events)).toBe("I'll read the file.")
      const calls = first.events.filter((e) => e.type === 'tool-call')
      expect(calls).toEqual([
        {
          type: 'tool-call',
          toolCallId: 'call_1',
          toolName: 'read_file',
          input: { path: 'README.md' },
        },
        { type: 'tool-call', toolCallId: 'call_2', toolName: 'bash', input: { command: 'ls' } },
      ])
      const finish = first.events.at(-1)
      expect(finish).toMatchObject({ type: 'finish', finishReason: 'tool-calls' })
      if (finish?.type !== 'finish') throw new Error('no finish')
      expect(finish.usage.inputTokens).toBeGreaterThan(0)
      expect(finish.usage.outputTokens).toBeGreaterThan(0)

      const second = await runStep(model, stepRequest({ messages: afterToolCalls }))
      expect(second.error).toBeUndefined()
      expect(textOf(second.events)).toBe('The README says hello.')
      expect(second.events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' })
      expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        `POST ${kit.path}`,
        `POST ${kit.path}`,
      ])
    })

    test('429 with retry-after: waits at least that long, emits a retry event, then succeeds', async () => {
      const s = server()
      const { headers, ms } = kit.retryAfter
      s.enqueue(kit.httpError(429, headers), kit.stream(kit.answer(['ok'])))
      const outcome = await runStep(kit.createModel(s), stepRequest())
      expect(outcome.error).toBeUndefined()
      const retry = outcome.events.find((e) => e.type === 'retry')
      expect(retry).toMatchObject({ type: 'retry', attempt: 1, delayMs: ms })
      expect(retry?.type === 'retry' && retry.reason).toContain('HTTP 429')
      expect(textOf(outcome.events)).toBe('ok')
      const [first, second] = s.requests
      expect(s.requests).toHaveLength(2)
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(ms - 10)
    })

    test('repeated 5xx: PROVIDER_FAILED after maxRetries, naming provider, model and status', async () => {
      const s = server()
      s.enqueue(kit.httpError(500), kit.httpError(500), kit.httpError(500), kit.httpError(500))
      const outcome = await runStep(kit.createModel(s), stepRequest())
      const error = expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(s.requests).toHaveLength(3)
      expect(outcome.events.map((e) => e.type)).toEqual(['retry', 'retry'])
      expect(error.message).toContain(kit.provider)
      expect(error.message).toContain(kit.modelId)
      expect(error.message).toContain('HTTP 500')
      expect(error.message).toMatch(/Internal server error|The server had an error/)
      expect(error.data).toMatchObject({ status: 500, attempts: 3 })
    })

    test('a 400 is not retried', async () => {
      const s = server()
      s.enqueue(kit.httpError(400), kit.stream(kit.answer(['never'])))
      const outcome = await runStep(kit.createModel(s), stepRequest())
      const error = expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(error.message).toContain('HTTP 400')
      expect(s.requests).toHaveLength(1)
      expect(outcome.events).toEqual([])
    })

    test('a 401 is not retried and the hint points at the key', async () => {
      const s = server()
      s.enqueue(kit.httpError(401), kit.stream(kit.answer(['never'])))
      const outcome = await runStep(kit.createModel(s), stepRequest())
      const error = expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(error.message).toContain('HTTP 401')
      expect(s.requests).toHaveLength(1)
      if (kit.keyEnvVar !== undefined) {
        expect(error.hint).toContain(kit.keyEnvVar)
        expect(error.hint).toContain('[llm] api_key')
      }
    })

    test('an error event after text went out: PROVIDER_FAILED, no retry', async () => {
      const s = server()
      s.enqueue(
        kit.stream([...kit.upToFirstText(['partial ', 'answer']), kit.errorEvent()]),
        kit.stream(kit.answer(['never'])),
      )
      const outcome = await runStep(kit.createModel(s), stepRequest())
      const error = expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(error.message).toMatch(/Overloaded|The server had an error/)
      expect(textOf(outcome.events)).toBe('partial ')
      expect(outcome.events.some((e) => e.type === 'finish' || e.type === 'retry')).toBe(false)
      expect(s.requests).toHaveLength(1)
    })

    test('a stream that fails before any output is retried once more', async () => {
      const s = server()
      // Everything before the first text delta (message_start / the role chunk), then a cut.
      const preamble = kit.upToFirstText(['cut']).slice(0, -1)
      s.enqueue(kit.stream(preamble, 'destroy'), kit.stream(kit.answer(['fine'])))
      const outcome = await runStep(kit.createModel(s), stepRequest())
      expect(outcome.error).toBeUndefined()
      expect(outcome.events.map((e) => e.type)).toEqual(['retry', 'text-delta', 'finish'])
      expect(textOf(outcome.events)).toBe('fine')
      expect(s.requests).toHaveLength(2)
    })

    test('a malformed data line: PROVIDER_FAILED', async () => {
      const s = server()
      s.enqueue(kit.stream([...kit.upToFirstText(['a', 'b']), kit.malformed()]))
      const outcome = await runStep(kit.createModel(s), stepRequest())
      expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(outcome.events.some((e) => e.type === 'finish')).toBe(false)
    })

    test('a truncated stream (socket cut mid-answer): PROVIDER_FAILED, never a partial answer', async () => {
      const s = server()
      s.enqueue(kit.stream(kit.upToFirstText(['half ', 'answer']), 'destroy'))
      const outcome = await runStep(kit.createModel(s), stepRequest())
      expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(textOf(outcome.events)).toBe('half ')
      expect(outcome.events.some((e) => e.type === 'finish')).toBe(false)
    })

    test('a stream that ends cleanly without its finish: PROVIDER_FAILED', async () => {
      const s = server()
      s.enqueue(kit.stream(kit.upToFirstText(['half ', 'answer']), 'end'))
      const outcome = await runStep(kit.createModel(s), stepRequest())
      const error = expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(error.message).toMatch(/cut off|ended/)
      expect(outcome.events.some((e) => e.type === 'finish')).toBe(false)
    })

    test('abort mid-stream: ABORTED promptly and the HTTP request is cancelled', async () => {
      const s = server()
      s.enqueue(kit.stream(kit.upToFirstText(['streaming ', 'more']), 'stall'))
      const controller = new AbortController()
      let abortedAt = 0
      const outcome = await runStep(
        kit.createModel(s, { idleTimeoutMs: 5_000 }),
        stepRequest({ signal: controller.signal }),
        (event) => {
          if (event.type === 'text-delta') {
            abortedAt = performance.now()
            controller.abort()
          }
        },
      )
      expectCode(outcome.error, 'ABORTED')
      // Ended by the abort, not by the 5 s idle watchdog on the stalled stream.
      expect(performance.now() - abortedAt).toBeLessThan(2_500)
      await expect.poll(() => s.clientAborts).toBe(1)
      expect(s.requests).toHaveLength(1)
    })

    test('idle watchdog: no data for idleTimeoutMs → PROVIDER_FAILED', async () => {
      const s = server()
      s.enqueue(kit.stream(kit.upToFirstText(['thinking ', 'more']), 'stall'))
      const outcome = await runStep(kit.createModel(s, { idleTimeoutMs: 300 }), stepRequest())
      const error = expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(error.message).toContain(`no data from ${kit.provider} for 0.3 s`)
      expect(outcome.elapsedMs).toBeGreaterThanOrEqual(290)
      expect(outcome.elapsedMs).toBeLessThan(2_000)
      expect(s.requests).toHaveLength(1)
      await expect.poll(() => s.clientAborts).toBe(1)
    })

    test('idle before any output is retried, and fails after maxRetries', async () => {
      const s = server()
      s.enqueue(kit.stream([], 'stall'), kit.stream([], 'stall'))
      const model = kit.createModel(s, { maxRetries: 1, idleTimeoutMs: 150 })
      const outcome = await runStep(model, stepRequest())
      expectCode(outcome.error, 'PROVIDER_FAILED')
      expect(outcome.events.map((e) => e.type)).toEqual(['retry'])
      expect(s.requests).toHaveLength(2)
    })

    test('invalid tool calls (unknown tool, arguments that are not JSON) come out marked invalid', async () => {
      const s = server()
      s.enqueue(
        kit.stream(
          kit.answer(
            [],
            [
              { id: 'call_x', name: 'delete_everything', args: ['{}'] },
              { id: 'call_y', name: 'read_file', args: ['{"path": '] },
            ],
          ),
        ),
      )
      const outcome = await runStep(kit.createModel(s), stepRequest())
      expect(outcome.error).toBeUndefined()
      const [unknown, broken, finish] = outcome.events
      expect(unknown).toMatchObject({
        type: 'tool-call',
        toolCallId: 'call_x',
        toolName: 'delete_everything',
      })
      expect(unknown?.type === 'tool-call' && unknown.invalid).toMatch(/delete_everything/)
      expect(broken).toMatchObject({
        type: 'tool-call',
        toolCallId: 'call_y',
        toolName: 'read_file',
      })
      expect(broken?.type === 'tool-call' && broken.invalid).toMatch(/read_file/)
      expect(finish).toMatchObject({ type: 'finish', finishReason: 'tool-calls' })
    })

    test('an answer without tools: text, then finish with usage', async () => {
      const s = server()
      s.enqueue(kit.stream(kit.answer(['Summary: ', 'done.'])))
      const outcome = await runStep(kit.createModel(s), stepRequest({ tools: [] }))
      expect(outcome.error).toBeUndefined()
      expect(textOf(outcome.events)).toBe('Summary: done.')
      expect(outcome.events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' })
    })
  })
}
