import { APICallError } from 'ai'
import { describe, expect, test } from 'vitest'

import {
  parseRetryAfter,
  StepFailure,
  toStepFailure,
} from '../../../../src/agent/provider/failure.js'
import { retryDelayMs } from '../../../../src/agent/provider/retry.js'

function apiError(
  statusCode: number,
  headers: Record<string, string> = {},
  data?: unknown,
): APICallError {
  return new APICallError({
    message: `status ${statusCode}`,
    url: 'http://x',
    requestBodyValues: {},
    statusCode,
    responseHeaders: headers,
    data,
  })
}

describe('parseRetryAfter', () => {
  test('retry-after-ms wins, then retry-after seconds, then an HTTP date', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '9' })).toBe(250)
    expect(parseRetryAfter({ 'retry-after': '2' })).toBe(2000)
    const now = Date.parse('2025-01-01T00:00:00Z')
    expect(parseRetryAfter({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }, now)).toBe(3000)
    expect(parseRetryAfter({ 'retry-after': 'soon' })).toBeUndefined()
    expect(parseRetryAfter({})).toBeUndefined()
    expect(parseRetryAfter(undefined)).toBeUndefined()
  })
})

describe('toStepFailure', () => {
  test('408/409/429/5xx are retryable; other 4xx are not', () => {
    for (const status of [408, 409, 429, 500, 503, 529]) {
      expect(toStepFailure(apiError(status)).retryable, String(status)).toBe(true)
    }
    for (const status of [400, 401, 403, 404, 413, 422]) {
      expect(toStepFailure(apiError(status)).retryable, String(status)).toBe(false)
    }
  })

  test('keeps status and retry-after; a quota error is not retryable', () => {
    const failure = toStepFailure(apiError(429, { 'retry-after': '1' }))
    expect(failure.details).toMatchObject({ status: 429, retryAfterMs: 1000, kind: 'http' })
    const quota = apiError(429, {}, { error: { type: 'insufficient_quota', message: 'quota' } })
    expect(toStepFailure(quota).retryable).toBe(false)
  })

  test('in-stream error objects: message with type; client errors are not retryable', () => {
    const overloaded = toStepFailure({ type: 'overloaded_error', message: 'Overloaded' })
    expect(overloaded.message).toBe('overloaded_error: Overloaded')
    expect(overloaded.details.status).toBe(529)
    expect(overloaded.retryable).toBe(true)
    const invalid = toStepFailure({ type: 'invalid_request_error', message: 'bad' })
    expect(invalid.retryable).toBe(false)
    expect(toStepFailure('boom').message).toBe('boom')
    expect(toStepFailure(new Error('x'.repeat(1000))).message.length).toBeLessThan(420)
  })
})

describe('retryDelayMs', () => {
  const plain = new StepFailure('x', true, { kind: 'stream' })
  test('exponential backoff with jitter in the upper half, capped at 30 s', () => {
    expect(retryDelayMs(plain, 1, 1000, () => 0)).toBe(500)
    expect(retryDelayMs(plain, 1, 1000, () => 1)).toBe(1000)
    expect(retryDelayMs(plain, 3, 1000, () => 1)).toBe(4000)
    expect(retryDelayMs(plain, 20, 1000, () => 1)).toBe(30_000)
  })

  test('retry-after wins; beyond 60 s there is no retry', () => {
    const after = (ms: number): StepFailure =>
      new StepFailure('x', true, { kind: 'http', status: 429, retryAfterMs: ms })
    expect(retryDelayMs(after(1500), 1, 1000)).toBe(1500)
    expect(retryDelayMs(after(60_000), 1, 1000)).toBe(60_000)
    expect(retryDelayMs(after(61_000), 1, 1000)).toBeUndefined()
  })
})
