import { isSafeCoderError, type SafeCoderError } from '../../src/shared/errors.js'

/** The SafeCoderError `promise` rejects with; anything else (or no rejection) fails the test. */
export async function failure(promise: Promise<unknown>): Promise<SafeCoderError> {
  try {
    await promise
  } catch (error) {
    if (isSafeCoderError(error)) return error
    throw error
  }
  throw new Error('expected a failure')
}
