import { SafeCoderError } from '../shared/errors.js'

export type Task = () => Promise<void>

/**
 * Runs tasks with at most `limit` in flight. Tasks may add more tasks while they run (a directory
 * walk discovers work as it goes). The first failure, or an abort, stops new tasks from starting;
 * `done()` settles only once every started task has finished, so nothing writes after it.
 */
export interface TaskPool {
  add(task: Task): void
  /** Resolves when the queue is empty and nothing runs; rejects with the first failure. */
  done(): Promise<void>
}

interface Outcome {
  error?: unknown
}

// Copy-in's speed comes from overlapping file syscalls; the bound keeps descriptors and memory flat.
export function createTaskPool(limit: number, signal?: AbortSignal): TaskPool {
  let queue: Task[] = []
  let head = 0
  let running = 0
  let failure: Outcome | undefined
  let outcome: Outcome | undefined
  const waiters: { resolve: () => void; reject: (error: unknown) => void }[] = []

  const onAbort = (): void => {
    fail(new SafeCoderError('ABORTED', 'Copy-in was cancelled.', { cause: signal?.reason }))
    pump()
  }
  signal?.addEventListener('abort', onAbort, { once: true })

  function fail(error: unknown): void {
    failure ??= { error }
    queue = []
    head = 0
  }

  function finish(): void {
    signal?.removeEventListener('abort', onAbort)
    outcome = failure ?? {}
    for (const waiter of waiters.splice(0)) settle(waiter, outcome)
  }

  function pump(): void {
    if (signal?.aborted === true && failure === undefined) onAbort()
    while (running < limit && head < queue.length && failure === undefined) {
      const task = queue[head++] as Task
      running++
      task().then(onSettled, (error: unknown) => {
        fail(error)
        onSettled()
      })
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head)
      head = 0
    }
    if (running === 0 && outcome === undefined && (head >= queue.length || failure !== undefined)) {
      finish()
    }
  }

  function onSettled(): void {
    running--
    pump()
  }

  return {
    add(task) {
      if (failure !== undefined || outcome !== undefined) return
      queue.push(task)
      pump()
    },
    done() {
      return new Promise((resolve, reject) => {
        waiters.push({ resolve, reject })
        if (outcome !== undefined || running === 0) finish()
      })
    },
  }
}

function settle(
  waiter: { resolve: () => void; reject: (error: unknown) => void },
  outcome: Outcome,
): void {
  if ('error' in outcome) waiter.reject(outcome.error)
  else waiter.resolve()
}
