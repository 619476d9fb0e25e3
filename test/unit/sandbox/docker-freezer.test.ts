import type Docker from 'dockerode'
import { describe, expect, it } from 'vitest'
import { sandboxError, startUnpaused } from '../../../src/sandbox/docker/engine-errors.js'
import { containerFreezer } from '../../../src/sandbox/docker/freeze.js'
import { failure } from '../../helpers/failure.js'

/** An engine error as dockerode gives it. */
function engineError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), {
    statusCode,
    json: { message },
  })
}

/** A container whose `pause` fails with `errors` in turn, then succeeds. */
function container(errors: Error[]) {
  let pauses = 0
  const fake = {
    id: 'c'.repeat(64),
    pause: () => {
      pauses++
      const error = errors.shift()
      return error === undefined ? Promise.resolve() : Promise.reject(error)
    },
    inspect: () => Promise.resolve({ State: { Running: true, Paused: false } }),
  }
  return { fake: fake as unknown as Docker.Container, pauses: () => pauses }
}

const unsettled = () => engineError(500, 'OCI runtime pause failed: unable to freeze: unknown')

describe('freezing a container', () => {
  it('tries again when the runtime freezer did not settle, as runc says under load', async () => {
    const c = container([unsettled(), unsettled()])
    expect(await containerFreezer(c.fake, 'docker').freeze()).toBe(true)
    expect(c.pauses()).toBe(3)
  })

  it('does not take "already paused" right after a thaw for someone else\'s pause', async () => {
    const late = engineError(409, `Container ${'c'.repeat(64)} is already paused`)
    const c = container([late])
    expect(await containerFreezer(c.fake, 'docker').freeze()).toBe(true)
    expect(c.pauses()).toBe(2)
  })

  it('gives up after a few tries, and at once on any other failure, naming the sandbox', async () => {
    const stuck = container(Array.from({ length: 10 }, unsettled))
    const error = await failure(containerFreezer(stuck.fake, 'docker').freeze())
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(/Cannot freeze sandbox cccccccccccc.*unable to freeze/)
    expect(stuck.pauses()).toBe(6)

    const other = container([engineError(500, 'cgroups: cannot find cgroup mount destination')])
    await failure(containerFreezer(other.fake, 'docker').freeze())
    expect(other.pauses()).toBe(1)
  })
})

describe('starting an exec right after a thaw', () => {
  const pausedRefusal = () =>
    engineError(409, `Container ${'c'.repeat(64)} is paused, unpause the container before exec`)

  it('tries again while the engine still calls the container paused (a late pause event)', async () => {
    let calls = 0
    const started = await startUnpaused(() => {
      calls++
      return calls < 3 ? Promise.reject(pausedRefusal()) : Promise.resolve('started')
    })
    expect(started).toBe('started')
    expect(calls).toBe(3)
  })

  it('gives up on a container someone else keeps paused, saying how to unpause it', async () => {
    let calls = 0
    const refused = await startUnpaused(() => {
      calls++
      return Promise.reject(pausedRefusal())
    }).catch((error: unknown) => sandboxError('c'.repeat(64), 'starting `true`', error))
    expect(calls).toBe(8)
    expect(refused.code).toBe('SANDBOX_FAILED')
    expect(refused.message).toMatch(/Sandbox cccccccccccc is paused/)
    expect(refused.hint).toMatch(/docker unpause cccccccccccc/)
  })

  it('does not retry any other refusal', async () => {
    let calls = 0
    const gone = engineError(409, `Container ${'c'.repeat(64)} is not running`)
    await expect(
      startUnpaused(() => {
        calls++
        return Promise.reject(gone)
      }),
    ).rejects.toBe(gone)
    expect(calls).toBe(1)
  })
})
