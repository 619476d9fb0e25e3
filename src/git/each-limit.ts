import { throwIfAborted } from '../shared/abort.js'

/**
 * Runs `task` over `items` with at most `limit` in flight: file reads overlap in libuv's thread
 * pool while memory stays bounded. Stops starting tasks after the first failure or an abort.
 */
export async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      throwIfAborted(signal, 'Recording the mirror')
      const item = items[next++] as T
      try {
        await task(item)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  const workers = Array.from({ length: Math.min(limit, items.length) }, worker)
  const results = await Promise.allSettled(workers)
  const rejected = results.find((result) => result.status === 'rejected')
  if (rejected !== undefined) throw rejected.reason
}
