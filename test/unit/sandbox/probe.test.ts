import { createServer, type ServerResponse } from 'node:http'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { probeEngine } from '../../../src/sandbox/docker/probe.js'
import { tempDir } from '../../helpers/sandbox.js'

/**
 * A Podman-like engine on a unix socket: `_ping` answers at once; `version` and `info` answer
 * only once both have been asked (Podman runs helper binaries for each, seconds under load).
 */
async function slowDescribingEngine(): Promise<string> {
  const socket = path.join(await tempDir('safe-coder-probe-'), 'engine.sock')
  const held = new Map<string, ServerResponse>()
  const bodies: Record<string, object> = {
    version: {
      Version: '4.3.1',
      ApiVersion: '1.41',
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: '6.1',
      Components: [{ Name: 'Podman Engine' }],
    },
    info: { Runtimes: { runc: {} }, DefaultRuntime: 'runc', SecurityOptions: [] },
  }
  const server = createServer((req, res) => {
    const name = /\/(_ping|version|info)$/.exec(req.url ?? '')?.[1]
    if (name === '_ping') {
      res.end('OK')
      return
    }
    if (name === undefined) {
      res.writeHead(404).end()
      return
    }
    held.set(name, res)
    if (held.size < 2) return
    for (const [which, reply] of held) {
      reply.setHeader('content-type', 'application/json')
      reply.end(JSON.stringify(bodies[which]))
    }
  })
  await new Promise<void>((resolve) => server.listen(socket, resolve))
  onTestFinished(
    () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve()
        }),
      ),
  )
  return socket
}

describe('probing a Docker-API engine', () => {
  it('asks a live engine for its version and info at once, not one slow call after the other', async () => {
    const socket = await slowDescribingEngine()
    const { result } = await probeEngine({
      kind: 'podman',
      socket,
      image: 'x',
      cpus: 1,
      memoryMb: 64,
      pidsLimit: 64,
      tmpSizeMb: 16,
      diskMb: 1024,
      readOnlyRoot: false,
      autoPull: false,
    })
    expect(result.reason).toBeUndefined()
    expect(result.available).toBe(true)
    expect(result.summary).toBe(`Podman 4.3.1 (API 1.41) at unix://${socket}`)
  })
})
