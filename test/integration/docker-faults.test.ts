import { describe, expect, it } from 'vitest'
import { DockerBackend } from '../../src/sandbox/docker/backend.js'
import { requireDocker } from '../helpers/docker.js'
import { createTestSandbox, tempDir, testBackendOptions } from '../helpers/sandbox.js'
import { failure } from '../helpers/failure.js'

describe('docker backend faults', () => {
  it('reports a container killed from outside mid-exec as SANDBOX_GONE, and keeps working', async () => {
    const docker = await requireDocker()
    const { sandbox } = await createTestSandbox()
    const running = failure(sandbox.exec({ command: 'echo started; sleep 1000' }))
    await new Promise((r) => setTimeout(r, 500))
    await docker.getContainer(sandbox.id).kill()
    const error = await running
    expect(error.code).toBe('SANDBOX_GONE')
    expect(error.message).toMatch(/stopped|gone/)
    expect(error.hint).toMatch(/resume|new session/)
    expect((await failure(sandbox.exec({ command: 'true' }))).code).toBe('SANDBOX_GONE')
    await sandbox.dispose()
    await sandbox.dispose()
  })

  it('says which engine it could not reach and how to fix it', async () => {
    const refused = new DockerBackend(
      testBackendOptions({ env: { DOCKER_HOST: 'tcp://127.0.0.1:1' } }),
    )
    const probe = await refused.probe()
    expect(probe.available).toBe(false)
    expect(probe.reason).toMatch(/ECONNREFUSED/)
    expect(probe.hint).toMatch(/Start the Docker daemon/)
    const missing = new DockerBackend(
      testBackendOptions({ env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } }),
    )
    const error = await failure(
      missing.create({ sessionId: 's', mirrorDir: '/tmp', projectPath: '/tmp' }),
    )
    expect(error.code).toBe('BACKEND_UNAVAILABLE')
    expect(error.message).toMatch(/\/nonexistent\/docker\.sock/)
  })

  it('names the build command when the image is missing', async () => {
    await requireDocker()
    const mirror = await tempDir()
    const backend = new DockerBackend(
      testBackendOptions({ image: 'safe-coder-test/does-not-exist:1' }),
    )
    const error = await failure(
      backend.create({ sessionId: 's', mirrorDir: mirror, projectPath: mirror }),
    )
    expect(error.code).toBe('IMAGE_MISSING')
    expect(error.hint).toMatch(/safe-coder image build/)
  })

  it('rejects a runtime the engine does not have, leaving no container behind', async () => {
    const docker = await requireDocker()
    const mirror = await tempDir()
    const backend = new DockerBackend(testBackendOptions({ runtime: 'no-such-runtime' }))
    const error = await failure(
      backend.create({ sessionId: 'runtime-test', mirrorDir: mirror, projectPath: mirror }),
    )
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(/no-such-runtime/)
    const left = await docker.listContainers({
      all: true,
      filters: { label: ['safe-coder.session=runtime-test'] },
    })
    expect(left).toEqual([])
  })

  it('lists its sandboxes by label and gc reaps those whose owner died', async () => {
    const { sandbox, backend } = await createTestSandbox()
    const listed = await backend.list()
    const mine = listed.find((s) => s.id === sandbox.id)
    expect(mine?.ownerPid).toBe(process.pid)
    const { reapOrphans } = await import('../../src/sandbox/gc.js')
    const kept = await reapOrphans(backend, { dryRun: true })
    expect(kept.removed.map((s) => s.id)).not.toContain(sandbox.id)
    const reaped = await reapOrphans(backend, { isAlive: (pid) => pid !== process.pid })
    expect(reaped.removed.map((s) => s.id)).toContain(sandbox.id)
    expect((await backend.list()).map((s) => s.id)).not.toContain(sandbox.id)
  })
})
