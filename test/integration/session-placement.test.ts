import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createChatModel } from '../../src/agent/provider/index.js'
import { builtinTools } from '../../src/agent/tools/index.js'
import { createBus } from '../../src/bus/bus.js'
import type { EventMap } from '../../src/bus/events.js'
import { loadConfig } from '../../src/config/index.js'
import { DockerBackend } from '../../src/sandbox/docker/backend.js'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { selectSessionBackend } from '../../src/sandbox/index.js'
import type { SandboxBackend } from '../../src/sandbox/types.js'
import { SessionManager } from '../../src/session/manager.js'
import { SessionStore } from '../../src/session/store.js'
import { isSafeCoderError } from '../../src/shared/errors.js'
import { requireEngine } from '../helpers/docker.js'
import { tempDir, testBackendOptions } from '../helpers/sandbox.js'

function manager(
  store: SessionStore,
  backend: SandboxBackend,
  sessionBackend?: (id: string) => Promise<SandboxBackend>,
): SessionManager {
  const made = new SessionManager({
    store,
    bus: createBus<EventMap>(),
    backend,
    ...(sessionBackend === undefined ? {} : { sessionBackend }),
    tracking: { maxFileBytes: 1024 * 1024, exclude: [] },
    model: () =>
      createChatModel({ provider: 'demo', env: {}, maxRetries: 0, idleTimeoutMs: 10_000 }),
    tools: builtinTools,
    settings: {
      maxSteps: 5,
      maxOutputTokens: 1024,
      bashTimeoutMs: 30_000,
      toolOutputChars: 10_000,
      approval: { policy: 'auto', interactive: false },
    },
  })
  onTestFinished(() => made.closeAll())
  return made
}

describe('an agent session reopens on the backend and engine it recorded', () => {
  it('on Podman, from a process whose default is Docker; refused without its engine', async () => {
    await requireEngine('docker')
    await requireEngine('podman')
    const project = await tempDir('safe-coder-project-')
    await writeFile(path.join(project, 'a.txt'), 'a\n')
    const store = new SessionStore(await tempDir('safe-coder-state-'))
    const podman = new DockerBackend(testBackendOptions({ kind: 'podman', image: BUSYBOX_IMAGE }))
    const docker = new DockerBackend(testBackendOptions({ image: BUSYBOX_IMAGE }))

    const first = manager(store, podman)
    const { session } = await first.create(project)
    const id = session.id
    await first.closeAll()
    expect(await store.read(id)).toMatchObject({ backend: 'podman', engine: await podman.engine() })

    // A process whose backend for new sessions is Docker, and no way to find the session's own.
    const error = await manager(store, docker)
      .open(id)
      .catch((e: unknown) => e)
    expect(isSafeCoderError(error) && [error.code, error.message]).toEqual([
      'USAGE',
      `Session ${id} runs on podman at ${await podman.engine()}, not on docker.`,
    ])

    // The CLI's way: the session's recorded placement picks its backend.
    const { config } = await loadConfig({ cwd: project, env: { HOME: project }, flags: {} })
    const pinned = { ...config, docker: { ...config.docker, image: BUSYBOX_IMAGE } }
    const reopened = await manager(store, docker, async (sid) => {
      const chosen = await selectSessionBackend(sid, await store.read(sid), pinned)
      return chosen.backend
    }).open(id)
    expect(reopened.sandboxKind).toBe('podman')
  })
})
