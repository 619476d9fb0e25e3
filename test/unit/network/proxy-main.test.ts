import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../../src/network/proxy-main.js'
import type { ProxyEvent } from '../../../src/network/types.js'
import { closeServer, portOf, upstreamServer, viaProxy, waitFor } from './helpers.js'

let dir: string
let upstream: Server
let up: number

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sc-proxy-main-'))
  upstream = await upstreamServer((_req, res) => res.end('from upstream'))
  up = portOf(upstream)
})

afterAll(async () => {
  await closeServer(upstream)
  rmSync(dir, { recursive: true, force: true })
})

describe('proxy-main', () => {
  it('does not start when imported; main() checks its environment', async () => {
    await expect(main({})).rejects.toThrow(/SAFE_CODER_POLICY_FILE is not set/)
    const file = join(dir, 'p0.json')
    writeFileSync(file, JSON.stringify({ mode: 'allowlist', allow: [] }))
    await expect(
      main({ SAFE_CODER_POLICY_FILE: file, SAFE_CODER_PROXY_PORT: 'http' }),
    ).rejects.toThrow(/SAFE_CODER_PROXY_PORT "http" is not a port/)
  })

  it('runs in-process, writing JSON lines', async () => {
    const file = join(dir, 'p1.json')
    writeFileSync(file, JSON.stringify({ mode: 'allowlist', allow: ['127.0.0.1'] }))
    const lines: string[] = []
    const env = { SAFE_CODER_POLICY_FILE: file, SAFE_CODER_PROXY_PORT: '0' }
    const proxy = await main({ ...env, SAFE_CODER_PROXY_HOST: '127.0.0.1' }, (l) => lines.push(l))
    try {
      expect(JSON.parse(lines[0] ?? '')).toEqual({ type: 'ready', port: proxy.port })
      expect((await viaProxy(proxy.port, `http://127.0.0.1:${up}/`)).status).toBe(200)
      const line = await waitFor(() => lines[1])
      expect(JSON.parse(line)).toMatchObject({ type: 'allowed', host: '127.0.0.1', port: up })
      expect(line.endsWith('\n')).toBe(true)
    } finally {
      await proxy.close()
    }
  })

  it('runs as the sidecar entry: ready line, event lines, policy changes, exit 0 on SIGTERM', async () => {
    const file = join(dir, 'p2.json')
    writeFileSync(file, JSON.stringify({ mode: 'allowlist', allow: ['127.0.0.1'], deny: [] }))
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/network/proxy-main.ts'],
      {
        env: {
          ...process.env,
          SAFE_CODER_POLICY_FILE: file,
          SAFE_CODER_PROXY_PORT: '0',
          SAFE_CODER_PROXY_HOST: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const events: ProxyEvent[] = []
    if (child.stdout === null) throw new Error('no stdout')
    createInterface({ input: child.stdout }).on('line', (line) => {
      events.push(JSON.parse(line) as ProxyEvent)
    })
    try {
      const ready = await waitFor(() => events[0], 20_000)
      if (ready.type !== 'ready') throw new Error(`first line: ${JSON.stringify(ready)}`)
      const reply = await viaProxy(ready.port, `http://127.0.0.1:${up}/hi`)
      expect(reply.body.toString()).toBe('from upstream')
      await waitFor(() => events.find((e) => e.type === 'allowed'))
      expect(events[1]).toMatchObject({ type: 'allowed', kind: 'http', path: '/hi' })

      writeFileSync(file, JSON.stringify({ mode: 'allowlist', allow: ['example.com'], deny: [] }))
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const refused = await viaProxy(ready.port, `http://127.0.0.1:${up}/hi`)
      expect(refused.status).toBe(403)
      await waitFor(() => events.find((e) => e.type === 'denied'))
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
  }, 30_000)
})
