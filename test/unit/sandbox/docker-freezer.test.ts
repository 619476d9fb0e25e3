import type Docker from 'dockerode'
import { describe, expect, it } from 'vitest'
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
