import { describe, expect, it } from 'vitest'
import { requireDocker } from '../helpers/docker.js'
import { createTestSandbox, sandboxVariants } from '../helpers/sandbox.js'

/**
 * `whileFrozen` on the Docker backend: the container is paused for the host's work on its
 * mirror, and nothing the session does meanwhile fails because of it (the engine refuses to
 * start an exec in a paused container).
 */
describe('freezing a Docker sandbox for host work on its mirror', () => {
  for (const variant of sandboxVariants) {
    it(`pauses it for the work, and an exec asked for meanwhile runs after the thaw (${variant.name})`, async () => {
      const docker = await requireDocker()
      const { sandbox } = await createTestSandbox({ backend: variant.backend })
      const container = docker.getContainer(sandbox.id)
      expect((await sandbox.exec({ command: ['true'] })).exitCode).toBe(0)
      const order: string[] = []
      let exec: Promise<unknown> = Promise.resolve()
      const result = await sandbox.whileFrozen(async () => {
        expect((await container.inspect()).State.Paused).toBe(true)
        exec = sandbox.exec({ command: ['echo', 'after the thaw'] }).then((r) => {
          order.push('exec')
          return r
        })
        order.push('work')
        return 'recorded'
      })
      order.push('thawed')
      expect(result).toBe('recorded')
      expect(await exec).toMatchObject({ exitCode: 0, stdout: 'after the thaw\n' })
      expect(order).toEqual(['work', 'thawed', 'exec'])
      expect((await container.inspect()).State.Paused).toBe(false)

      // Work that fails still thaws, and its error is the caller's.
      await expect(
        sandbox.whileFrozen(() => Promise.reject(new Error('the scan failed'))),
      ).rejects.toThrow('the scan failed')
      expect((await container.inspect()).State.Paused).toBe(false)
      expect((await sandbox.exec({ command: ['echo', 'still usable'] })).stdout).toBe(
        'still usable\n',
      )
    })
  }

  it('keeps the gauges going while frozen, and a frozen or dead container is still removed', async () => {
    const docker = await requireDocker()
    const { sandbox, backend } = await createTestSandbox()
    const stats = new AbortController()
    const sample = await sandbox.whileFrozen(async () => {
      for await (const s of sandbox.stats(stats.signal)) return s
      return undefined
    })
    stats.abort()
    expect(sample?.memoryLimitBytes).toBeGreaterThan(0)

    // A Safe Coder process killed while the sandbox was frozen leaves it paused: `gc` and
    // `resume` remove it (the engine kills a paused container's processes).
    const container = docker.getContainer(sandbox.id)
    await container.pause()
    await backend.remove(sandbox.id)
    await expect(container.inspect()).rejects.toMatchObject({ statusCode: 404 })
    // A sandbox that is gone runs nothing: the host's work goes on without a freeze.
    expect(await sandbox.whileFrozen(() => Promise.resolve('recorded anyway'))).toBe(
      'recorded anyway',
    )
  })
})
