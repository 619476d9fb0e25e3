import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { createChatModel } from '../src/agent/provider/index.js'
import { builtinTools } from '../src/agent/tools/index.js'
import type { ChatModel } from '../src/agent/types.js'
import { createBus } from '../src/bus/bus.js'
import type { EventMap } from '../src/bus/events.js'
import { commitChanges, initAuditRepo, snapshot } from '../src/git/index.js'
import { DockerBackend } from '../src/sandbox/docker/backend.js'
import { BUSYBOX_IMAGE } from '../src/sandbox/docker/busybox-image.js'
import { SessionManager } from '../src/session/manager.js'
import { SessionStore } from '../src/session/store.js'
import { createId } from '../src/shared/ids.js'
import { formatResults, result, time, type BenchResult } from './lib.js'

const FILES = 500

function backend(): DockerBackend {
  return new DockerBackend({
    kind: 'docker',
    image: BUSYBOX_IMAGE,
    cpus: 2,
    memoryMb: 512,
    pidsLimit: 256,
    tmpSizeMb: 64,
    diskMb: 10_240,
    readOnlyRoot: false,
    autoPull: false,
  })
}

async function project(dir: string): Promise<void> {
  for (let d = 0; d < FILES / 50; d++) {
    await mkdir(path.join(dir, `pkg${d}`), { recursive: true })
    for (let f = 0; f < 50; f++) {
      await writeFile(path.join(dir, `pkg${d}`, `m${f}.js`), `export const v = ${d * 50 + f}\n`)
    }
  }
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length
}

/** Times how long the model itself takes, so it can be taken out of the agent's figure. */
function timedModel(model: ChatModel, spent: { ms: number }): ChatModel {
  return {
    provider: model.provider,
    modelId: model.modelId,
    contextTokens: model.contextTokens,
    async *streamStep(request) {
      let start = performance.now()
      for await (const event of model.streamStep(request)) {
        spent.ms += performance.now() - start
        yield event
        start = performance.now()
      }
      spent.ms += performance.now() - start
    },
  }
}

/**
 * Agent overhead per tool call: a scripted turn of `bash` calls that each change one file, timed
 * without the model's own time, against a raw exec of the same command plus a raw scan commit
 * (with the sandbox frozen, as the session's are) on a mirror of the same size, measured in the
 * same run.
 */
export async function benchAgent(options: { calls: number }): Promise<BenchResult[]> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-agent-'))
  try {
    const projectDir = path.join(root, 'project')
    await project(projectDir)
    const command = (i: number): string => `echo ${i} > out${i}.txt`
    const script = {
      turns: [
        {
          steps: [
            ...Array.from({ length: options.calls }, (_, i) => ({
              text: '',
              tool_calls: [{ tool: 'bash', input: { command: command(i) } }],
            })),
            { text: 'done', tool_calls: [] },
          ],
        },
      ],
    }
    const spent = { ms: 0 }
    const manager = new SessionManager({
      store: new SessionStore(path.join(root, 'state')),
      bus: createBus<EventMap>(),
      backend: backend(),
      tracking: { maxFileBytes: 1 << 26, exclude: [] },
      model: () =>
        timedModel(
          createChatModel({
            provider: 'demo',
            env: {},
            maxRetries: 0,
            idleTimeoutMs: 60_000,
            demoScript: script,
          }),
          spent,
        ),
      tools: builtinTools,
      settings: {
        maxSteps: options.calls + 5,
        maxOutputTokens: 4096,
        bashTimeoutMs: 60_000,
        toolOutputChars: 30_000,
        approval: { policy: 'auto', interactive: false },
      },
    })
    const { session } = await manager.create(projectDir)
    const turnMs = await time(() => session.prompt('go'))
    await manager.closeAll()
    const perCall = (turnMs - spent.ms) / options.calls

    // The anchor: the same commands through a bare sandbox, each followed by a scan commit.
    const mirror = path.join(root, 'mirror')
    await project(mirror)
    await chmod(mirror, 0o777)
    const repo = await initAuditRepo({
      gitdir: path.join(root, 'anchor.git'),
      workDir: mirror,
      maxFileBytes: 1 << 26,
    })
    await snapshot(repo, { message: 'snapshot' })
    const sandbox = await backend().create({
      sessionId: createId('bench'),
      mirrorDir: mirror,
      projectPath: mirror,
    })
    const execs: number[] = []
    const commits: number[] = []
    try {
      for (let i = 0; i < options.calls; i++) {
        execs.push(await time(() => sandbox.exec({ command: command(i) })))
        // Frozen as the session's commits are (a process left running must not race the scan).
        commits.push(
          await time(() =>
            sandbox.whileFrozen(() => commitChanges(repo, { message: `c${i}`, scan: true })),
          ),
        )
      }
    } finally {
      await sandbox.dispose()
    }
    // Means on both sides: the agent's figure is a whole turn divided by its calls.
    const anchor = mean(execs) + mean(commits)
    return [
      result(
        `agent overhead per tool call (${options.calls} bash calls, ${FILES}-file project)`,
        'raw exec + raw frozen scan commit',
        perCall,
        anchor,
        1.3,
      ),
    ]
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatResults(await benchAgent({ calls: Number(process.env.BENCH_CALLS ?? 40) })))
}
