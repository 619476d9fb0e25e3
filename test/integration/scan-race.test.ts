import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createChatModel } from '../../src/agent/provider/index.js'
import { builtinTools } from '../../src/agent/tools/index.js'
import { createBus } from '../../src/bus/bus.js'
import type { EventMap } from '../../src/bus/events.js'
import { readLog } from '../../src/git/index.js'
import { DockerBackend } from '../../src/sandbox/docker/backend.js'
import { SessionManager } from '../../src/session/manager.js'
import { SessionStore } from '../../src/session/store.js'
import { loadTranscript } from '../../src/session/transcript.js'
import { auditRepo } from '../../src/session/workspace-session.js'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { requireDocker } from '../helpers/docker.js'
import { tempDir, testBackendOptions } from '../helpers/sandbox.js'
import {
  CHECK_RACER_COMMAND,
  RACED_DIRS,
  STOP_RACER_COMMAND,
  startRacerCommand,
} from '../helpers/scan-racer.js'

const tracking = { maxFileBytes: 10 * 1024 * 1024, exclude: [] }
/** Commits made while the racer runs: bounded by count, not by time. */
const COMMITS = 24

/** Every object of a git directory, decompressed, as one buffer. */
async function allObjects(gitdir: string): Promise<Buffer> {
  const result = await execa(
    'git',
    [
      '-c',
      'core.hooksPath=/dev/null',
      '--git-dir',
      gitdir,
      'cat-file',
      '--batch-all-objects',
      '--batch',
    ],
    { encoding: 'buffer', env: { GIT_CONFIG_NOSYSTEM: '1', HOME: gitdir }, extendEnv: false },
  )
  return Buffer.from(result.stdout)
}

describe('a live sandbox process racing the commit scan (Docker)', () => {
  it('never gets a host file into the history, every commit succeeds, and a dev server survives', async () => {
    await requireDocker()
    const token = `CANARY-${randomBytes(12).toString('hex')}`
    // The host path the racer points its links at: outside the project and the state dir.
    const canary = await tempDir('safe-coder-canary-')
    await writeFile(path.join(canary, 'secret.txt'), `host secret ${token}\n`)
    await writeFile(path.join(canary, `${token}.txt`), 'its name is the secret\n')
    const project = await tempDir('safe-coder-project-')
    await writeFile(path.join(project, 'README.md'), '# Race\n')

    const steps = [
      { tool_calls: [{ tool: 'bash', input: { command: startRacerCommand(canary) } }] },
      ...Array.from({ length: COMMITS }, (_, i) => ({
        tool_calls: [{ tool: 'bash', input: { command: `echo ${i} > count.txt` } }],
      })),
      { tool_calls: [{ tool: 'bash', input: { command: CHECK_RACER_COMMAND } }] },
      { tool_calls: [{ tool: 'bash', input: { command: STOP_RACER_COMMAND } }] },
      { text: 'done' },
    ]
    const store = new SessionStore(await tempDir('safe-coder-state-'))
    const manager = new SessionManager({
      store,
      bus: createBus<EventMap>(),
      backend: new DockerBackend(testBackendOptions({ image: SANDBOX_IMAGE, memoryMb: 512 })),
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
        maxSteps: COMMITS + 10,
        maxOutputTokens: 4096,
        bashTimeoutMs: 60_000,
        toolOutputChars: 20_000,
        approval: { policy: 'auto', interactive: false },
      },
    })
    onTestFinished(() => manager.closeAll())
    const { session } = await manager.create(project)

    const report = await session.prompt('race')
    // Every tool call was recorded: none of the commits failed under the racer.
    expect(report.toolCalls).toBe(COMMITS + 3)
    expect(report.commits).toHaveLength(COMMITS + 3)
    const transcript = await loadTranscript(store.paths(session.id).transcriptFile)
    const results = transcript.flatMap((m) => (m.role === 'tool' ? m.content : []))
    expect(results.filter((r) => r.isError)).toEqual([])
    const outputs = results.map((r) => r.output)
    expect(outputs[0]).toMatch(/alive 1/)
    // The racer and the server ran through every commit and still answer.
    expect(outputs[COMMITS + 1]).toMatch(/RACER-ALIVE/)
    expect(outputs[COMMITS + 1]).toMatch(/alive \d+/)

    const repo = await auditRepo(store, session.id, tracking.maxFileBytes)
    // The racer really was live while the history was written: its swaps show up in it.
    const log = await readLog(repo)
    const swaps = log.flatMap((c) => c.files).filter((f) => RACED_DIRS.includes(f.path))
    expect(swaps.length).toBeGreaterThan(0)
    // Neither the canary's content nor its file names reached any object of the history.
    const objects = await allObjects(repo.gitdir)
    expect(objects.includes(token)).toBe(false)
    expect(await readFile(path.join(canary, 'secret.txt'), 'utf8')).toBe(`host secret ${token}\n`)
  }, 300_000)
})
