import { connect, createServer, type Socket } from 'node:net'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { requireDocker } from '../helpers/docker.js'
import { createTestSandbox, tempDir } from '../helpers/sandbox.js'

/**
 * A socket in front of the daemon that passes every request through except the stats ones,
 * which it swallows: the Engine's stats endpoint as it behaves when dockerd is too busy to answer.
 */
async function stallingStats(daemonSocket: string): Promise<string> {
  const dir = await tempDir('safe-coder-stall-')
  const socketPath = path.join(dir, 'docker.sock')
  const open = new Set<Socket>()
  const server = createServer((client) => {
    open.add(client)
    const daemon = connect(daemonSocket)
    open.add(daemon)
    let stalled = false
    client.on('data', (chunk: Buffer) => {
      // Keep-alive connections carry several requests; each starts at a fresh chunk.
      if (/^GET \S*\/containers\/[^/]+\/stats/.test(chunk.toString('latin1', 0, 200))) {
        stalled = true
      }
      if (!stalled) daemon.write(chunk)
    })
    daemon.on('data', (chunk: Buffer) => client.write(chunk))
    const close = (): void => {
      client.destroy()
      daemon.destroy()
    }
    client.on('close', close).on('error', close)
    daemon.on('close', close).on('error', close)
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  onTestFinished(async () => {
    for (const socket of open) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return socketPath
}

describe('docker sandbox gauges', () => {
  it('stay live from the cgroup files while the Engine does not answer stats requests', async () => {
    const docker = await requireDocker()
    const daemonSocket = (docker.modem as { socketPath?: string }).socketPath
    if (daemonSocket === undefined) throw new Error('These tests need the daemon on a unix socket.')
    const proxy = await stallingStats(daemonSocket)
    const { sandbox, mirror } = await createTestSandbox({
      backend: { env: { DOCKER_HOST: `unix://${proxy}` } },
    })
    // Burns one CPU until the test has seen it in a sample, then stops on the file it is given.
    const burner = sandbox.exec({ command: 'while [ ! -e stop ]; do :; done' })
    const started = performance.now()
    const controller = new AbortController()
    let first: number | undefined
    let busy: Awaited<ReturnType<typeof nextBusy>> | undefined
    async function nextBusy() {
      for await (const sample of sandbox.stats(controller.signal)) {
        first ??= performance.now() - started
        if (sample.cpuPercent > 1) return sample
      }
      return undefined
    }
    try {
      busy = await nextBusy()
    } finally {
      controller.abort()
      await writeFile(path.join(mirror, 'stop'), '')
    }
    expect((await burner).exitCode).toBe(0)
    // An idle container shows hundredths of a percent; a loaded machine may give the burner little.
    expect(busy?.cpuPercent).toBeGreaterThan(1)
    expect(busy?.cpuPercent).toBeLessThan(150)
    expect(busy?.memoryLimitBytes).toBe(256 * 1024 * 1024)
    expect(busy?.memoryBytes).toBeGreaterThan(0)
    expect(busy?.pids).toBeGreaterThanOrEqual(2)
    console.log(
      `first sample after ${first?.toFixed(0)} ms, busy one ${busy?.cpuPercent.toFixed(0)} %`,
    )
  })
})
