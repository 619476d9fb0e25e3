import { Agent, request, type Server } from 'node:http'
import { connect, type Server as TcpServer } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createEgressProxy, type EgressProxy } from '../../../src/network/proxy.js'
import type { NetworkPolicy, ProxyEvent } from '../../../src/network/types.js'
import {
  closeServer,
  connectVia,
  echoServer,
  portOf,
  readAll,
  readBytes,
  upstreamServer,
  viaProxy,
  waitFor,
} from './helpers.js'

const tenMiB = 10 * 1024 * 1024

let upstream: Server
let up: number
let echo: TcpServer
let echoPort: number
let proxy: EgressProxy
let policy: NetworkPolicy
let events: ProxyEvent[]
const names: Record<string, string[]> = {}
const resolve = vi.fn((host: string) => {
  const found = names[host]
  return found === undefined
    ? Promise.reject(new Error(`getaddrinfo ENOTFOUND ${host}`))
    : Promise.resolve(found)
})

beforeAll(async () => {
  upstream = await upstreamServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/big') {
      res.writeHead(200, { 'content-length': tenMiB })
      const chunk = Buffer.alloc(64 * 1024, 'x')
      let left = tenMiB / chunk.length
      const pump = (): void => {
        while (left > 0) {
          left--
          if (!res.write(chunk)) {
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      pump()
      return
    }
    if (url.pathname === '/slow') {
      setTimeout(() => res.end('slow'), 150)
      return
    }
    let received = 0
    req.on('data', (chunk: Buffer) => (received += chunk.length))
    req.on('end', () => {
      res.setHeader('x-seen-headers', JSON.stringify(req.headers))
      res.setHeader('connection', 'keep-alive, x-private')
      res.setHeader('x-private', 'hop')
      res.end(`hello ${req.method ?? ''} ${req.url ?? ''} ${received}`)
    })
  })
  up = portOf(upstream)
  echo = await echoServer()
  echoPort = portOf(echo)
  proxy = await createEgressProxy({
    policy: () => policy,
    host: '127.0.0.1',
    port: 0,
    resolve,
    onEvent: (event) => events.push(event),
  })
})

afterAll(async () => {
  await proxy.close()
  await closeServer(upstream)
  await new Promise((r) => echo.close(r))
})

beforeEach(() => {
  events = []
  resolve.mockClear()
  for (const key of Object.keys(names)) Reflect.deleteProperty(names, key)
  policy = { mode: 'allowlist', allow: ['127.0.0.1'], deny: [] }
})

const finished = (type: 'allowed' | 'denied') => waitFor(() => events.find((e) => e.type === type))

describe('egress proxy: plain HTTP', () => {
  it('forwards an allowed GET and reports it when it ends', async () => {
    const reply = await viaProxy(proxy.port, `http://127.0.0.1:${up}/path?q=1`)
    expect(reply.status).toBe(200)
    expect(reply.body.toString()).toBe('hello GET /path?q=1 0')
    const event = await finished('allowed')
    expect(event).toMatchObject({
      type: 'allowed',
      host: '127.0.0.1',
      port: up,
      kind: 'http',
      method: 'GET',
      path: '/path',
    })
    if (event.type !== 'allowed') throw new Error('unreachable')
    expect(event.reason).toBeUndefined()
    expect(event.bytesIn).toBeGreaterThan(reply.body.length)
    expect(event.bytesOut).toBeGreaterThan(20)
    expect(event.at).toBeLessThanOrEqual(Date.now())
  })

  it('strips hop-by-hop headers and Proxy-Authorization, and sets Host from the URL', async () => {
    const reply = await viaProxy(proxy.port, `http://127.0.0.1:${up}/h`, {
      headers: {
        host: 'other.example',
        'proxy-authorization': 'Basic c2VjcmV0',
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': '1',
        'x-keep-me': '2',
      },
    })
    const seen = JSON.parse(String(reply.headers['x-seen-headers'])) as Record<string, string>
    expect(seen.host).toBe(`127.0.0.1:${up}`)
    expect(seen['proxy-authorization']).toBeUndefined()
    expect(seen['x-drop-me']).toBeUndefined()
    expect(seen['x-keep-me']).toBe('2')
    expect(reply.headers['x-private']).toBeUndefined()
  })

  it('streams a request body upstream and counts it', async () => {
    const body = Buffer.alloc(1024 * 1024, 'y')
    const reply = await viaProxy(proxy.port, `http://127.0.0.1:${up}/upload`, {
      method: 'POST',
      body,
    })
    expect(reply.body.toString()).toBe(`hello POST /upload ${body.length}`)
    const event = await finished('allowed')
    if (event.type !== 'allowed') throw new Error('unreachable')
    expect(event.bytesOut).toBeGreaterThan(body.length)
    expect(event.bytesOut).toBeLessThan(body.length + 1024)
  })

  it('downloads 10 MiB and counts the bytes', async () => {
    const started = Date.now()
    const reply = await viaProxy(proxy.port, `http://127.0.0.1:${up}/big`)
    expect(reply.status).toBe(200)
    expect(reply.body.length).toBe(tenMiB)
    const event = await finished('allowed')
    if (event.type !== 'allowed') throw new Error('unreachable')
    expect(event.bytesIn).toBeGreaterThanOrEqual(tenMiB)
    expect(event.bytesIn).toBeLessThan(tenMiB + 1024)
    expect(event.durationMs).toBeLessThanOrEqual(Date.now() - started)
  })

  it('serves several requests on one kept-alive client connection, one event each', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const get = (path: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: proxy.port, path: `http://127.0.0.1:${up}${path}`, agent },
          (res) => {
            let body = ''
            res.on('data', (chunk: Buffer) => (body += chunk.toString()))
            res.on('end', () => {
              resolve(body)
            })
          },
        )
        req.on('error', reject)
        req.end()
      })
    expect(await get('/one')).toBe('hello GET /one 0')
    expect(await get('/two')).toBe('hello GET /two 0')
    agent.destroy()
    await waitFor(() => (events.length === 2 ? events : undefined))
    expect(events.map((e) => (e.type === 'allowed' ? e.path : e.type))).toEqual(['/one', '/two'])
  })

  it('reports a client that goes away before the answer, and keeps serving', async () => {
    const socket = connect(proxy.port, '127.0.0.1')
    socket.on('error', () => undefined)
    socket.write(`GET http://127.0.0.1:${up}/slow HTTP/1.1\r\nHost: x\r\n\r\n`)
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.destroy()
    const event = await finished('allowed')
    expect(event).toMatchObject({ reason: 'the client went away', path: '/slow' })
    expect((await viaProxy(proxy.port, `http://127.0.0.1:${up}/`)).status).toBe(200)
  })

  it('reports durations', async () => {
    await viaProxy(proxy.port, `http://127.0.0.1:${up}/slow`)
    const event = await finished('allowed')
    if (event.type !== 'allowed') throw new Error('unreachable')
    expect(event.durationMs).toBeGreaterThanOrEqual(140)
  })

  it('refuses a host that is not in the allow-list with 403 naming the policy, at once', async () => {
    const reply = await viaProxy(proxy.port, 'http://example.com/x')
    expect(reply.status).toBe(403)
    expect(reply.body.toString()).toBe(
      "Safe Coder blocked example.com:80: not in this session's allow-list ([network] allow). Allow it with --allow-host example.com or in the dashboard.\n",
    )
    expect(events).toEqual([
      expect.objectContaining({
        type: 'denied',
        host: 'example.com',
        port: 80,
        kind: 'http',
        method: 'GET',
        path: '/x',
        reason: 'not in the allow-list',
        bytesIn: 0,
        bytesOut: 0,
      }),
    ])
    expect(resolve).not.toHaveBeenCalled()
  })

  it('answers 400 to a request that is not a proxy request', async () => {
    const reply = await viaProxy(proxy.port, '/index.html')
    expect(reply.status).toBe(400)
    expect(reply.body.toString()).toContain('egress proxy')
    const https = await viaProxy(proxy.port, 'https://example.com/')
    expect(https.status).toBe(400)
    expect(events).toEqual([])
  })

  it('answers 502 with the reason when the upstream is down, or the name does not resolve', async () => {
    const closed = await upstreamServer((_req, res) => res.end())
    const deadPort = portOf(closed)
    await closeServer(closed)
    const reply = await viaProxy(proxy.port, `http://127.0.0.1:${deadPort}/`)
    expect(reply.status).toBe(502)
    expect(reply.body.toString()).toContain('ECONNREFUSED')
    const event = await finished('allowed')
    expect(event).toMatchObject({ reason: expect.stringContaining('ECONNREFUSED') as string })

    policy = { mode: 'allowlist', allow: ['nowhere.test'], deny: [] }
    const unknown = await viaProxy(proxy.port, 'http://nowhere.test/')
    expect(unknown.status).toBe(502)
    expect(unknown.body.toString()).toContain('DNS lookup failed')
  })
})

describe('egress proxy: the policy', () => {
  it('refuses a name that resolves to a private address unless that address is allowed', async () => {
    names['meta.test'] = ['169.254.169.254']
    names['local.test'] = ['127.0.0.1']
    names['mixed.test'] = ['93.184.216.34', '10.0.0.5']
    policy = { mode: 'allowlist', allow: ['meta.test', 'local.test', 'mixed.test'], deny: [] }
    const meta = await viaProxy(proxy.port, 'http://meta.test/latest/meta-data/')
    expect(meta.status).toBe(403)
    expect(meta.body.toString()).toContain(
      'Safe Coder blocked meta.test:80: it resolves to a private address (169.254.169.254)',
    )
    expect(events[0]).toMatchObject({
      type: 'denied',
      reason: 'resolves to a private address (169.254.169.254)',
    })
    expect((await viaProxy(proxy.port, `http://local.test:${up}/`)).status).toBe(403)
    expect((await viaProxy(proxy.port, 'http://mixed.test/')).status).toBe(403)

    policy = { mode: 'allowlist', allow: ['local.test', `127.0.0.1:${up}`], deny: [] }
    const allowed = await viaProxy(proxy.port, `http://local.test:${up}/ok`)
    expect(allowed.status).toBe(200)
    expect(allowed.body.toString()).toBe('hello GET /ok 0')
  })

  it('refuses a literal private address that no entry names, even in open mode', async () => {
    policy = { mode: 'open', allow: [], deny: [] }
    const reply = await viaProxy(proxy.port, `http://127.0.0.1:${up}/`)
    expect(reply.status).toBe(403)
    expect(reply.body.toString()).toContain('it is a private address (127.0.0.1)')
    names['public.test'] = ['127.0.0.1']
    expect((await viaProxy(proxy.port, `http://public.test:${up}/`)).status).toBe(403)
  })

  it('deny beats allow, also for the address a name resolves to', async () => {
    names['svc.test'] = ['127.0.0.1']
    policy = { mode: 'allowlist', allow: ['*.test', '127.0.0.1'], deny: ['bad.test'] }
    const reply = await viaProxy(proxy.port, 'http://bad.test/')
    expect(reply.status).toBe(403)
    expect(reply.body.toString()).toContain('matches "bad.test" in this session\'s deny-list')
    policy = { mode: 'allowlist', allow: ['*.test', '127.0.0.1'], deny: [`127.0.0.1:${up}`] }
    const byAddress = await viaProxy(proxy.port, `http://svc.test:${up}/`)
    expect(byAddress.status).toBe(403)
    expect(byAddress.body.toString()).toContain(`it resolves to 127.0.0.1, which matches`)
    expect(events.map((e) => e.type)).toEqual(['denied', 'denied'])
  })

  it('reads the policy again for every request', async () => {
    expect((await viaProxy(proxy.port, `http://127.0.0.1:${up}/`)).status).toBe(200)
    policy = { mode: 'none', allow: ['127.0.0.1'], deny: [] }
    const off = await viaProxy(proxy.port, `http://127.0.0.1:${up}/`)
    expect(off.status).toBe(403)
    expect(off.body.toString()).toContain('this session has no network')
    policy = { mode: 'allowlist', allow: ['127.0.0.1'], deny: [] }
    expect((await viaProxy(proxy.port, `http://127.0.0.1:${up}/`)).status).toBe(200)
  })

  it('fails closed when the policy is unusable', async () => {
    policy = { mode: 'allowlist', allow: ['http://bad'], deny: [] }
    const reply = await viaProxy(proxy.port, `http://127.0.0.1:${up}/`)
    expect(reply.status).toBe(403)
    expect(reply.body.toString()).toContain('network policy is unusable')
  })
})

describe('egress proxy: CONNECT', () => {
  it('tunnels bytes both ways to an allowed host:port, and reports the bytes', async () => {
    const { status, head, socket, rest } = await connectVia(proxy.port, `127.0.0.1:${echoPort}`)
    expect(status).toBe(200)
    expect(head).toBe('HTTP/1.1 200 Connection Established')
    socket.write('ping through the tunnel')
    expect((await readBytes(socket, 23, rest)).toString()).toBe('ping through the tunnel')
    socket.end()
    await readAll(socket)
    const event = await finished('allowed')
    expect(event).toMatchObject({
      type: 'allowed',
      host: '127.0.0.1',
      port: echoPort,
      kind: 'connect',
      bytesIn: 23,
      bytesOut: 23,
    })
  })

  it('forwards bytes sent right behind the CONNECT head', async () => {
    const { status, socket, rest } = await connectVia(proxy.port, `127.0.0.1:${echoPort}`, 'early')
    expect(status).toBe(200)
    expect((await readBytes(socket, 5, rest)).toString()).toBe('early')
    socket.destroy()
    const event = await finished('allowed')
    expect(event).toMatchObject({ bytesOut: 5 })
  })

  it('refuses a destination outside the allow-list with 403 and the policy text', async () => {
    const { status, socket, rest } = await connectVia(proxy.port, 'example.com:443')
    expect(status).toBe(403)
    const body = (await readAll(socket, rest)).toString()
    expect(body).toBe(
      "Safe Coder blocked example.com:443: not in this session's allow-list ([network] allow). Allow it with --allow-host example.com or in the dashboard.\n",
    )
    expect(events).toEqual([
      expect.objectContaining({ type: 'denied', host: 'example.com', port: 443, kind: 'connect' }),
    ])
  })

  it('refuses a name resolving to a private address, and a malformed target', async () => {
    names['rebind.test'] = ['127.0.0.1']
    policy = { mode: 'allowlist', allow: ['rebind.test'], deny: [] }
    const rebind = await connectVia(proxy.port, `rebind.test:${echoPort}`)
    expect(rebind.status).toBe(403)
    rebind.socket.destroy()
    const bad = await connectVia(proxy.port, 'no-port.test')
    expect(bad.status).toBe(400)
    bad.socket.destroy()
  })

  it('normalises the target like a URL host', async () => {
    policy = { mode: 'allowlist', allow: ['127.0.0.1'], deny: [] }
    const { status, socket } = await connectVia(proxy.port, `[::ffff:127.0.0.1]:${echoPort}`)
    expect(status).toBe(200)
    socket.destroy()
    policy = { mode: 'allowlist', allow: ['example.com'], deny: [] }
    const upper = await connectVia(proxy.port, 'EXAMPLE.com.:443')
    upper.socket.destroy()
    expect(resolve).toHaveBeenCalledWith('example.com')
  })
})
