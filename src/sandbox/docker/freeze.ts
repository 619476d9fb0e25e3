import type Docker from 'dockerode'
import { sleep } from '../../shared/abort.js'
import { SafeCoderError } from '../../shared/errors.js'
import type { Freezer } from '../freeze-gate.js'
import { engineMessage, isGone, isPausedRefusal, statusOf } from './engine-errors.js'

/**
 * Freezing a container through the Engine API: `pause` puts every process of it in the cgroup
 * freezer (they stop where they are, keep their state and go on after `unpause`; a dev server
 * only sees a short stall). A container that is gone or stopped runs nothing, so there is
 * nothing to freeze; one that someone else paused is left paused.
 */
export function containerFreezer(
  container: Docker.Container,
  engine: 'docker' | 'podman',
): Freezer {
  return {
    async freeze() {
      try {
        await pauseRetrying(container)
        return true
      } catch (error) {
        if (statusOf(error) === 404) return false
        if (statusOf(error) === 409) {
          const state = await container.inspect().then(
            (info) => info.State,
            (failure: unknown) => {
              if (statusOf(failure) === 404) return undefined
              throw freezeError(container.id, engine, failure)
            },
          )
          if (state === undefined || !state.Running || state.Paused) return false
        }
        throw freezeError(container.id, engine, error)
      }
    },
    async thaw() {
      let failure: unknown
      for (let attempt = 0; attempt < FREEZE_ATTEMPTS; attempt++) {
        if (attempt > 0) await sleep(100 * attempt)
        try {
          await container.unpause()
          return
        } catch (error) {
          // Removed, stopped or not paused any more: nothing of it is frozen.
          if (isGone(error)) return
          failure = error
        }
      }
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Cannot thaw sandbox ${container.id.slice(0, 12)} after Safe Coder worked on its workspace: ${engineMessage(failure)}.`,
        {
          hint: `Its processes stay frozen until it is unpaused: run \`${engine} unpause ${container.id.slice(0, 12)}\`, or end the session.`,
          cause: failure,
          data: { sandboxId: container.id },
        },
      )
    },
  }
}

/** Pauses before giving up on a freezer that did not settle in time. */
const FREEZE_ATTEMPTS = 6

/**
 * `pause`, again when the runtime's freezer did not settle: runc gives up ("unable to freeze")
 * when the cgroup does not report frozen in time — a process in the middle of a fork, or a
 * machine so loaded the kernel is slow to stop them all — and leaves the container running, so
 * another try is safe. Seen in CI next to a CPU-burning container and ten busy sessions.
 */
async function pauseRetrying(container: Docker.Container): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await container.pause()
      return
    } catch (error) {
      // "Already paused" right after our own thaw is the engine applying a late pause event
      // (see startUnpaused): taking it at its word would skip the freeze of a running sandbox.
      if (attempt >= FREEZE_ATTEMPTS || !(freezerUnsettled(error) || isPausedRefusal(error)))
        throw error
      await sleep(100 * attempt)
    }
  }
}

function freezerUnsettled(error: unknown): boolean {
  return statusOf(error) === 500 && /unable to freeze|freezer/i.test(engineMessage(error))
}

function freezeError(id: string, engine: 'docker' | 'podman', cause: unknown): SafeCoderError {
  return new SafeCoderError(
    'SANDBOX_FAILED',
    `Cannot freeze sandbox ${id.slice(0, 12)} to work on its workspace: ${engineMessage(cause)}.`,
    {
      hint: `Safe Coder pauses the sandbox (\`${engine} pause\`) while it records or reverts its files, so no process in it can swap them meanwhile. Check that the engine can pause containers (rootless Podman needs cgroup v2), or use another backend.`,
      cause,
      data: { sandboxId: id },
    },
  )
}
