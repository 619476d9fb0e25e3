import { chmod, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type Docker from 'dockerode'
import { execa } from 'execa'
import { DockerBackend } from '../src/sandbox/docker/backend.js'
import { inspectImage } from '../src/sandbox/docker/image.js'
import { BUSYBOX_IMAGE } from '../src/sandbox/docker/busybox-image.js'
import type { Sandbox } from '../src/sandbox/types.js'
import { createId } from '../src/shared/ids.js'
import { SANDBOX_IMAGE } from '../src/shared/version.js'
import { formatResults, median, percentile, result, time, type BenchResult } from './lib.js'

/** The image users get by default, or the busybox one when it has not been built. */
async function benchImage(backend: DockerBackend): Promise<string> {
  const docker = await backend.client()
  return (await inspectImage(docker, SANDBOX_IMAGE)) === undefined ? BUSYBOX_IMAGE : SANDBOX_IMAGE
}

export function backendFor(image: string, agent: 'auto' | 'off' = 'auto'): DockerBackend {
  return new DockerBackend({
    agent,
    kind: 'docker',
    image,
    cpus: 2,
    memoryMb: 1024,
    pidsLimit: 512,
    tmpSizeMb: 256,
    diskMb: 10_240,
    readOnlyRoot: false,
    autoPull: false,
  })
}

/** The least an Engine-API exec can do and still learn the exit code: the fair floor for ours. */
async function bareDockerodeExec(container: Docker.Container): Promise<number | null> {
  const exec = await container.exec({ Cmd: ['true'], AttachStdout: true, AttachStderr: true })
  const stream = await exec.start({ hijack: true, stdin: false })
  stream.resume()
  await new Promise((resolve) => stream.once('end', resolve))
  return (await exec.inspect()).ExitCode
}

/**
 * Exec round trip of `true` (p50, p95), through the in-container agent (Safe Coder's image) and
 * through Engine-API exec (any image), against the docker CLI and a bare dockerode loop.
 */
export async function benchExec(options: { runs: number }): Promise<BenchResult[]> {
  const image = await benchImage(backendFor(BUSYBOX_IMAGE))
  const backend = backendFor(image)
  const engine = backendFor(image, 'off')
  const docker = await backend.client()
  const mirror = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-'))
  await chmod(mirror, 0o777)
  const spec = () => ({ sessionId: createId('bench'), mirrorDir: mirror, projectPath: mirror })
  const viaAgent: Sandbox = await backend.create(spec())
  const viaEngine: Sandbox = await engine.create(spec())
  const container = docker.getContainer(viaEngine.id)
  const agent: number[] = []
  const ours: number[] = []
  const cli: number[] = []
  const bare: number[] = []
  try {
    for (let i = 0; i < 5; i++) {
      await viaAgent.exec({ command: ['true'] })
      await viaEngine.exec({ command: ['true'] })
    }
    const steps = [
      async () => agent.push(await time(() => viaAgent.exec({ command: ['true'] }))),
      async () => ours.push(await time(() => viaEngine.exec({ command: ['true'] }))),
      async () => cli.push(await time(() => execa('docker', ['exec', viaEngine.id, 'true']))),
      async () => bare.push(await time(() => bareDockerodeExec(container))),
    ]
    for (let i = 0; i < options.runs; i++) {
      // Rotate the order so drift on a noisy machine falls on every contender alike.
      for (let j = 0; j < steps.length; j++) await steps[(i + j) % steps.length]?.()
    }
  } finally {
    await viaAgent.dispose()
    await viaEngine.dispose()
    await rm(mirror, { recursive: true, force: true })
  }
  const results = [
    result('exec `true` p50, Engine-API exec', 'docker exec CLI', median(ours), median(cli), 0.8),
    result(
      'exec `true` p95, Engine-API exec',
      'docker exec CLI',
      percentile(ours, 95),
      percentile(cli, 95),
      0.8,
    ),
    result(
      'exec `true` p50, Engine-API exec',
      'bare dockerode exec',
      median(ours),
      median(bare),
      1.2,
    ),
    result(
      'exec `true` p95, Engine-API exec',
      'bare dockerode exec',
      percentile(ours, 95),
      percentile(bare, 95),
      1.2,
    ),
  ]
  if (image === SANDBOX_IMAGE) {
    results.unshift(
      result(
        'exec `true` p50, in-container agent',
        'docker exec CLI',
        median(agent),
        median(cli),
        0.2,
      ),
      result(
        'exec `true` p95, in-container agent',
        'docker exec CLI',
        percentile(agent, 95),
        percentile(cli, 95),
        0.2,
      ),
    )
  }
  return results
}

/** Sandbox ready (create, start, first exec answered) against `docker run --rm IMAGE true`. */
export async function benchSandboxReady(options: { runs: number }): Promise<BenchResult[]> {
  const image = await benchImage(backendFor(BUSYBOX_IMAGE))
  const backend = backendFor(image)
  const mirror = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-'))
  const ours: number[] = []
  const cli: number[] = []
  try {
    for (let i = 0; i < options.runs; i++) {
      const runOurs = async (): Promise<void> => {
        let sandbox: Sandbox | undefined
        ours.push(
          await time(async () => {
            sandbox = await backend.create({
              sessionId: createId('bench'),
              mirrorDir: mirror,
              projectPath: mirror,
            })
            await sandbox.exec({ command: ['true'] })
          }),
        )
        await sandbox?.dispose()
      }
      const runCli = async (): Promise<void> => {
        cli.push(
          await time(() => execa('docker', ['run', '--rm', '--network', 'none', image, 'true'])),
        )
      }
      if (i % 2 === 0) {
        await runOurs()
        await runCli()
      } else {
        await runCli()
        await runOurs()
      }
    }
  } finally {
    await rm(mirror, { recursive: true, force: true })
  }
  return [
    result(
      `sandbox ready median (${image})`,
      'docker run --rm IMAGE true',
      median(ours),
      median(cli),
      1.2,
    ),
  ]
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 100)
  const results = [
    ...(await benchExec({ runs })),
    ...(await benchSandboxReady({ runs: Math.max(5, Math.round(runs / 7)) })),
  ]
  console.log(formatResults(results))
}
