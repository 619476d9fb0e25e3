import { describe, expect, it } from 'vitest'
import { exitCodes } from '../../../src/cli/exit-codes.js'
import {
  SafeCoderError,
  errorCodes,
  isSafeCoderError,
  toErrorInfo,
} from '../../../src/shared/errors.js'

describe('SafeCoderError', () => {
  it('serialises to plain data with code, hint, data and the cause as text', () => {
    const cause = Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' })
    const error = new SafeCoderError('BACKEND_UNAVAILABLE', 'Docker sandbox unavailable.', {
      hint: 'Start it.',
      cause,
      data: { socket: '/var/run/docker.sock' },
    })
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'BACKEND_UNAVAILABLE',
      message: 'Docker sandbox unavailable.',
      hint: 'Start it.',
      data: { socket: '/var/run/docker.sock' },
      cause: 'connect failed (ECONNREFUSED)',
    })
    expect(isSafeCoderError(error, 'BACKEND_UNAVAILABLE')).toBe(true)
    expect(isSafeCoderError(error, 'USAGE')).toBe(false)
  })

  it('turns anything else into INTERNAL', () => {
    expect(toErrorInfo(new TypeError('x is undefined'))).toEqual({
      code: 'INTERNAL',
      message: 'x is undefined',
    })
    expect(toErrorInfo('plain')).toEqual({ code: 'INTERNAL', message: 'plain' })
  })

  it('has an exit status for every code', () => {
    for (const code of errorCodes) expect(exitCodes[code]).toBeGreaterThan(0)
  })
})
