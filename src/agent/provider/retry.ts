import type { StepFailure } from './failure.js'

/** A `retry-after` longer than this is not waited out: the step fails and says so. */
export const MAX_RETRY_AFTER_MS = 60_000
const MAX_BACKOFF_MS = 30_000
export const DEFAULT_RETRY_BASE_MS = 1_000

/**
 * How long to wait before retry number `retry` (1 for the first), or undefined when the provider
 * asked for a longer wait than we are willing to make. The provider's `retry-after-ms` /
 * `retry-after` wins; otherwise exponential backoff (base, 2×base, 4×base … capped at 30 s) with
 * jitter: a random point in the upper half of that interval, so parallel clients spread out.
 */
export function retryDelayMs(
  failure: StepFailure,
  retry: number,
  baseMs: number,
  random: () => number = Math.random,
): number | undefined {
  const retryAfter = failure.details.retryAfterMs
  if (retryAfter !== undefined) {
    return retryAfter <= MAX_RETRY_AFTER_MS ? Math.ceil(retryAfter) : undefined
  }
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** (retry - 1))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}
