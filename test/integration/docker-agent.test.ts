import { describe, expect, it } from 'vitest'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { createTestSandbox } from '../helpers/sandbox.js'

const agentProcess = /\/opt\/safe-coder\/agent\/main\.js/

describe('the in-container agent', () => {
  it("runs exec and file operations in Safe Coder's own image, not in others", async () => {
    const own = await createTestSandbox({ backend: { image: SANDBOX_IMAGE, memoryMb: 512 } })
    expect((await own.sandbox.exec({ command: 'ps -eo args' })).stdout).toMatch(agentProcess)
    const other = await createTestSandbox({ backend: { image: BUSYBOX_IMAGE } })
    expect((await other.sandbox.exec({ command: 'ps -o args' })).stdout).not.toMatch(agentProcess)
    const off = await createTestSandbox({
      backend: { image: SANDBOX_IMAGE, memoryMb: 512, agent: 'off' },
    })
    expect((await off.sandbox.exec({ command: 'ps -eo args' })).stdout).not.toMatch(agentProcess)
  })

  it('survives a command that kills it: that command is reported killed, the next one runs', async () => {
    const { sandbox } = await createTestSandbox({
      backend: { image: SANDBOX_IMAGE, memoryMb: 512 },
    })
    const killer = await sandbox.exec({ command: 'pkill -KILL -f /opt/safe-coder/agent; sleep 5' })
    expect(killer.exitCode).toBeNull()
    expect(killer.stderr).toMatch(/sandbox agent stopped/)
    const after = await sandbox.exec({ command: 'echo alive' })
    expect(after).toMatchObject({ exitCode: 0, stdout: 'alive\n' })
    await sandbox.writeFile('after.txt', 'ok')
    expect(Buffer.from(await sandbox.readFile('after.txt')).toString()).toBe('ok')
  })

  it('reports SANDBOX_GONE when the container itself is gone', async () => {
    const { sandbox, backend } = await createTestSandbox({
      backend: { image: SANDBOX_IMAGE, memoryMb: 512 },
    })
    await sandbox.exec({ command: 'true' })
    const docker = await backend.client()
    await docker.getContainer(sandbox.id).kill()
    await expect(sandbox.exec({ command: 'true' })).rejects.toMatchObject({ code: 'SANDBOX_GONE' })
  })
})
