import { isSafeCoderError, SafeCoderError } from '../../shared/errors.js'
import { sleep, throwIfAborted } from '../../shared/abort.js'
import type { ChatModel, ModelStepEvent, ModelStepRequest } from '../types.js'
import { runAttempt } from './attempt.js'
import { toStepFailure } from './failure.js'
import type { StepFailure } from './failure.js'
import type { ResolvedModel } from './models.js'
import { DEFAULT_RETRY_BASE_MS, MAX_RETRY_AFTER_MS, retryDelayMs } from './retry.js'

export interface StepPolicy {
  /** Retries after the first attempt. */
  maxRetries: number
  idleTimeoutMs: number
  retryBaseDelayMs?: number
}

/**
 * Our ChatModel over any AI SDK LanguageModelV3 (the real providers and the demo model alike).
 *
 * Retries are ours, not the SDK's (its `maxRetries` is 0): the SDK's retry loop
 * (ai/src/util/retry-with-exponential-backoff.ts) does honour `retry-after-ms`/`retry-after`, but
 * it only covers the initial HTTP response, has no hook to observe a retry (so no `retry` event),
 * and no jitter. One loop here covers both kinds of retryable failure:
 *  - HTTP 408/409/429/5xx (incl. Anthropic's 529 overloaded) and network errors, waiting what
 *    `retry-after-ms`/`retry-after` says (at most 60 s, else fail at once) or exponential backoff;
 *  - a stream that failed (error event, truncation, malformed data, idle) before anything went
 *    to the caller. Once text has been yielded the step fails instead: a retry would repeat it.
 * Other 4xx (bad request, 401/403 key problems …) are never retried. Before each wait a `retry`
 * event goes out; its `attempt` is the retry's number (1 for the first retry).
 */
export function createStreamingChatModel(resolved: ResolvedModel, policy: StepPolicy): ChatModel {
  return {
    provider: resolved.provider,
    modelId: resolved.modelId,
    contextTokens: resolved.contextTokens,
    streamStep: (request) => streamStep(resolved, policy, request),
  }
}

async function* streamStep(
  resolved: ResolvedModel,
  policy: StepPolicy,
  request: ModelStepRequest,
): AsyncGenerator<ModelStepEvent> {
  const baseMs = policy.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_MS
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(request.signal, 'The model request')
    const state = { yielded: false }
    let failure: StepFailure
    try {
      yield* runAttempt({
        model: resolved.model,
        provider: resolved.provider,
        request,
        idleTimeoutMs: policy.idleTimeoutMs,
        state,
      })
      return
    } catch (error) {
      if (isSafeCoderError(error)) throw error
      failure = toStepFailure(error)
    }
    const retryable = failure.retryable && !state.yielded && attempt <= policy.maxRetries
    const delayMs = retryable ? retryDelayMs(failure, attempt, baseMs) : undefined
    if (delayMs === undefined) throw providerFailed(resolved, failure, attempt, state.yielded)
    yield { type: 'retry', attempt, delayMs, reason: reasonOf(failure) }
    try {
      await sleep(delayMs, request.signal)
    } catch (error) {
      throw new SafeCoderError('ABORTED', 'The model request was cancelled.', { cause: error })
    }
  }
}

function reasonOf(failure: StepFailure): string {
  const status = failure.details.status
  return status === undefined ? failure.message : `HTTP ${status}: ${failure.message}`
}

function providerFailed(
  resolved: ResolvedModel,
  failure: StepFailure,
  attempts: number,
  partial: boolean,
): SafeCoderError {
  const { status, retryAfterMs, kind } = failure.details
  const tries = attempts > 1 ? ` after ${attempts} attempts` : ''
  const httpStatus = status === undefined ? '' : ` with HTTP ${status}`
  const tooLong =
    retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS
      ? ` (it asked to retry after ${Math.round(retryAfterMs / 1000)} s)`
      : ''
  const cut = partial ? ' (after part of the answer had arrived)' : ''
  const message = `${resolved.provider} model ${resolved.modelId} failed${httpStatus}${tries}: ${failure.message}${tooLong}${cut}`
  return new SafeCoderError('PROVIDER_FAILED', message, {
    hint: hintFor(resolved, status, kind),
    cause: failure.cause ?? failure,
    data: {
      provider: resolved.provider,
      model: resolved.modelId,
      attempts,
      ...(status !== undefined && { status }),
    },
  })
}

function hintFor(
  resolved: ResolvedModel,
  status: number | undefined,
  kind: StepFailure['details']['kind'],
): string {
  if (status === 401 || status === 403) return resolved.authHint
  if (status === 429) return 'The provider is rate-limiting requests; wait a little and try again.'
  if (status !== undefined && status >= 500) {
    return 'The provider is overloaded or failing; try again in a moment.'
  }
  if (kind === 'idle') return 'The provider stopped sending data; check the network and retry.'
  if (kind === 'http' && status === undefined) return resolved.connectHint
  if (status !== undefined) return 'The provider rejected the request; see the message above.'
  return 'The response was cut off or malformed; try again.'
}
