import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  EngineStreamError,
  engineReason,
  readEngineEvents,
  toEngineError,
} from '../../../src/sandbox/docker/image-engine.js'
import type { EngineEvent } from '../../../src/sandbox/docker/image-engine.js'
import { SafeCoderError } from '../../../src/shared/errors.js'

describe('readEngineEvents', () => {
  it('parses JSON lines split anywhere across chunks', async () => {
    const text = '{"status":"Pulling fs layer","id":"a1"}\r\n{"status":"sha256:abc"}\r\n'
    const chunks = [text.slice(0, 7), text.slice(7, 45), text.slice(45)].map((s) => Buffer.from(s))
    const seen: EngineEvent[] = []
    const events = await readEngineEvents(Readable.from(chunks), (e) => seen.push(e))
    expect(events).toEqual([{ status: 'Pulling fs layer', id: 'a1' }, { status: 'sha256:abc' }])
    expect(seen).toEqual(events)
  })

  it('keeps a final line without a newline and tolerates non-JSON lines', async () => {
    const events = await readEngineEvents(Readable.from([Buffer.from('oops\n{"status":"done"}')]))
    expect(events).toEqual([{ status: 'oops' }, { status: 'done' }])
  })

  it('rejects on an in-band error with the engine message', async () => {
    const body = '{"status":"x"}\n{"errorDetail":{"message":"manifest unknown"},"error":"m"}\n'
    const reading = readEngineEvents(Readable.from([Buffer.from(body)]))
    await expect(reading).rejects.toThrow(EngineStreamError)
    await expect(readEngineEvents(Readable.from([Buffer.from(body)]))).rejects.toThrow(
      'manifest unknown',
    )
  })
})

describe('toEngineError', () => {
  it('calls an unreachable socket BACKEND_UNAVAILABLE', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    const error = toEngineError(refused, 'IMAGE_BUILD_FAILED', 'Importing x')
    expect(error.code).toBe('BACKEND_UNAVAILABLE')
    expect(error.message).toContain('ECONNREFUSED')
    expect(error.hint).toBeDefined()
  })

  it('calls anything after an abort ABORTED', () => {
    const controller = new AbortController()
    controller.abort()
    const error = toEngineError(
      new Error('socket hang up'),
      'IMAGE_MISSING',
      'Pulling x',
      controller.signal,
    )
    expect(error.code).toBe('ABORTED')
  })

  it("uses the engine's own words and the caller's code otherwise", () => {
    const http = Object.assign(new Error('(HTTP code 500) server error - boom '), {
      statusCode: 500,
      json: { message: 'archive/tar: invalid tar header' },
    })
    const error = toEngineError(http, 'IMAGE_BUILD_FAILED', 'Importing x')
    expect(error.code).toBe('IMAGE_BUILD_FAILED')
    expect(error.message).toBe('Importing x failed: archive/tar: invalid tar header')
  })

  it('passes SafeCoderErrors through', () => {
    const original = new SafeCoderError('IMAGE_MISSING', 'gone')
    expect(toEngineError(original, 'IMAGE_BUILD_FAILED', 'x')).toBe(original)
  })
})

describe('engineReason', () => {
  it("strips dockerode's status prefix from streaming failures", () => {
    const error = Object.assign(
      new Error('(HTTP code 500) server error - Get "https://r/v2/": no such host '),
      { statusCode: 500, json: null },
    )
    expect(engineReason(error)).toBe('Get "https://r/v2/": no such host')
  })
})
