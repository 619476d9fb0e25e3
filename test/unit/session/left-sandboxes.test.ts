import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createChatModel } from '../../../src/agent/provider/index.js'
import { builtinTools } from '../../../src/agent/tools/index.js'
import { createBus } from '../../../src/bus/bus.js'
import type { EventMap } from '../../../src/bus/events.js'
import { commitChanges, readLog } from '../../../src/git/index.js'
import { LocalSessionClient } from '../../../src/session/local-client.js'
import { SessionManager } from '../../../src/session/manager.js'
import { SANDBOX_STARTING } from '../../../src/session/left-sandboxes.js'
import { revertInSession } from '../../../src/session/review.js'
import { SessionStore } from '../../../src/session/store.js'
import {
  auditRepo,
  createWorkspaceSession,
  discardSession,
  execInSession,
  reclaimSession,
} from '../../../src/session/workspace-session.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'
import { FakeBackend, sandboxInfo } from '../../helpers/fake-backend.js'

const tracking = { maxFileBytes: 1024 * 1024, exclude: [] }

async function temp(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A session whose owner was killed while its sandbox ran: the record still names the sandbox,
 * the backend still lists it, and it wrote `left.txt` into the mirror after the last commit.
 */
async function crashedSession(backend: FakeBackend) {
  const project = await temp('safe-coder-project-')
  await writeFile(path.join(project, 'a.txt'), 'one\n')
  const store = new SessionStore(await temp('safe-coder-state-'))
  const { record } = await createWorkspaceSession({ store, projectDir: project, backend, tracking })
  const id = record.id
  const work = store.paths(id).work
  await writeFile(path.join(work, 'a.txt'), 'two\n')
  const repo = await auditRepo(store, id, tracking.maxFileBytes)
  const edit = await commitChanges(repo, { message: 'edit a', paths: ['a.txt'] })
  await store.update(id, (r) => ({ status: 'active', sandboxId: 'left-1', commits: r.commits + 1 }))
  backend.left.push(sandboxInfo('left-1', id, 999_999_999))
  await writeFile(path.join(work, 'left.txt'), 'written by the orphan\n')
  return { store, id, work, repo, edit: edit?.commit ?? '' }
}

describe("a sandbox a killed Safe Coder process left running on a session's mirror", () => {
  it('is removed before `exec` runs, and what it left is recorded first', async () => {
    const backend = new FakeBackend([], (sandbox, spec) => {
      sandbox.onExec = async () => {
        await writeFile(path.join(spec.mirrorDir, 'new.txt'), 'from the command\n')
        return {}
      }
    })
    const { store, id, repo } = await crashedSession(backend)
    await execInSession({ store, id, backend, command: ['touch', 'new.txt'], tracking })
    expect(backend.removed).toEqual(['left-1'])
    const log = await readLog(repo, { limit: 2 })
    expect(log.map((c) => [c.subject, c.files.map((f) => f.path)])).toEqual([
      ['exec: touch new.txt', ['new.txt']],
      ['recovered: changes left by an interrupted command', ['left.txt']],
    ])
    expect((await store.read(id)).sandboxId).toBeUndefined()
  })

  it('blocks a revert until it is reclaimed; then the revert goes ahead', async () => {
    const backend = new FakeBackend()
    const { store, id, work, edit } = await crashedSession(backend)
    const ctx = { store, tracking }
    const refused = await revertInSession(ctx, id, { commit: edit }).catch((e: unknown) => e)
    expect(isSafeCoderError(refused, 'USAGE')).toBe(true)
    expect((refused as Error).message).toMatch(/left-1.*may still be running/)
    expect(await readFile(path.join(work, 'a.txt'), 'utf8')).toBe('two\n')

    await reclaimSession({ store, id, backend, tracking })
    expect(backend.removed).toEqual(['left-1'])
    await revertInSession(ctx, id, { commit: edit })
    expect(await readFile(path.join(work, 'a.txt'), 'utf8')).toBe('one\n')
  })

  it('is removed before a discard deletes the folder; without a backend nothing is deleted', async () => {
    const backend = new FakeBackend()
    const { store, id, work } = await crashedSession(backend)
    const refused = await discardSession(store, id).catch((e: unknown) => e)
    expect(isSafeCoderError(refused, 'USAGE')).toBe(true)
    await access(work)
    await discardSession(store, id, () => backend)
    expect(backend.removed).toEqual(['left-1'])
    await expect(access(store.paths(id).dir)).rejects.toThrow()
  })
})

describe('a process killed while its sandbox was being created', () => {
  it('leaves a record that admits to it, so revert waits and discard removes it first', async () => {
    const project = await temp('safe-coder-project-')
    await writeFile(path.join(project, 'a.txt'), 'one\n')
    const store = new SessionStore(await temp('safe-coder-state-'))
    let started: (id: string) => void = () => undefined
    const creating = new Promise<string>((resolve) => (started = resolve))
    // The engine has made the container; the process dies before the backend returns it.
    class Killed extends FakeBackend {
      override create(spec: Parameters<FakeBackend['create']>[0]) {
        this.left.push(sandboxInfo('made-1', spec.sessionId, 999_999_999))
        started(spec.sessionId)
        return new Promise<never>(() => undefined)
      }
    }
    const backend = new Killed()
    const { record } = await createWorkspaceSession({
      store,
      projectDir: project,
      backend,
      tracking,
    })
    void execInSession({ store, id: record.id, backend, command: ['true'], tracking })
    expect(await creating).toBe(record.id)
    expect((await store.read(record.id)).sandboxId).toBe(SANDBOX_STARTING)
    const refused = await revertInSession({ store, tracking }, record.id, {
      commit: 'HEAD',
    }).catch((e: unknown) => e)
    expect((refused as Error).message).toMatch(/a sandbox it was starting/)
    // A dead owner's lock is stale; this process is alive, so its lock goes by hand.
    await rm(store.paths(record.id).lockFile, { force: true })
    await discardSession(store, record.id, () => backend)
    expect(backend.removed).toEqual(['made-1'])
  })

  it('is cleared when the start fails', async () => {
    const project = await temp('safe-coder-project-')
    const store = new SessionStore(await temp('safe-coder-state-'))
    class Failing extends FakeBackend {
      override create(): Promise<never> {
        return Promise.reject(new Error('no engine'))
      }
    }
    const backend = new Failing()
    const { record } = await createWorkspaceSession({
      store,
      projectDir: project,
      backend,
      tracking,
    })
    const failed = execInSession({ store, id: record.id, backend, command: ['true'], tracking })
    await expect(failed).rejects.toThrow('no engine')
    expect((await store.read(record.id)).sandboxId).toBeUndefined()
  })
})

describe('a revert from the dashboard on a session of this process', () => {
  it('runs while its sandbox is held still', async () => {
    const project = await temp('safe-coder-project-')
    await writeFile(path.join(project, 'a.txt'), 'one\n')
    const store = new SessionStore(await temp('safe-coder-state-'))
    const backend = new FakeBackend([], (sandbox, spec) => {
      sandbox.onExec = async () => {
        await writeFile(path.join(spec.mirrorDir, 'a.txt'), 'two\n')
        return {}
      }
    })
    const bus = createBus<EventMap>()
    const steps = [
      { tool_calls: [{ tool: 'bash', input: { command: 'echo two > a.txt' } }] },
      { text: 'done' },
    ]
    const manager = new SessionManager({
      store,
      bus,
      backend,
      tracking,
      model: () =>
        createChatModel({
          provider: 'demo',
          env: {},
          maxRetries: 0,
          idleTimeoutMs: 10_000,
          demoScript: { turns: [{ steps }] },
        }),
      tools: builtinTools,
      settings: {
        maxSteps: 5,
        maxOutputTokens: 1000,
        bashTimeoutMs: 10_000,
        toolOutputChars: 10_000,
        approval: { policy: 'auto', interactive: false },
      },
    })
    onTestFinished(() => manager.closeAll())
    const { session } = await manager.create(project)
    const report = await session.prompt('go')
    const sandbox = backend.created[0]
    // The tool call's commit was made with the sandbox held still.
    expect(sandbox?.frozenHolds).toBe(1)
    const client = new LocalSessionClient({ manager, store, tracking, bus })
    await client.revert(session.id, { commit: report.commits[0] ?? '' })
    expect(sandbox?.frozenHolds).toBe(2)
    expect(await readFile(path.join(store.paths(session.id).work, 'a.txt'), 'utf8')).toBe('one\n')
  })
})
