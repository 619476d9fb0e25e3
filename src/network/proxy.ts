/**
 * The per-session egress proxy (DESIGN.md §8): an HTTP forward proxy on node:http. Plain HTTP with
 * absolute URLs is forwarded, CONNECT is tunnelled; the policy is re-read on every request and
 * every allowed or denied connection is reported once (allowed ones when they end).
 */
import { createServer } from 'node:http'
import type { Socket } from 'node:net'
import { forwardHttp, reply } from './forward.js'
import { describe, lookupAll, type ProxyContext } from './gate.js'
import { tunnel } from './tunnel.js'
import type { NetworkPolicy, ProxyEvent } from './types.js'

export interface EgressProxyOptions {
  /** The current policy; called for every request, so changes apply to the next connection. */
  policy: () => NetworkPolicy
  /** Default: all interfaces. */
  host?: string
  /** 0 picks a free port (see the returned `port`). */
  port: number
  /** Name to addresses; default dns.lookup (all, in the resolver's order). */
  resolve?: (host: string) => Promise<string[]>
  onEvent: (event: ProxyEvent) => void
  /** Per address tried. Default 10 s. */
  connectTimeoutMs?: number
}

export interface EgressProxy {
  port: number
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>
}

export async function createEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const emit = (event: ProxyEvent): void => {
    try {
      options.onEvent(event)
    } catch {
      // A listener's failure is not the connection's.
    }
  }
  const ctx: ProxyContext = {
    policy: options.policy,
    resolve: options.resolve ?? lookupAll,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    emit,
    track,
  }
  const failed = (error: unknown): void => {
    emit({ type: 'error', message: `proxy: ${describe(error)}` })
  }

  const server = createServer()
  // Uploads and downloads may take as long as they take; only the request head has a deadline.
  server.requestTimeout = 0
  server.on('connection', track)
  server.on('request', (req, res) => {
    forwardHttp(ctx, req, res).catch((error: unknown) => {
      failed(error)
      reply(res, 500, `Safe Coder's egress proxy failed: ${describe(error)}\n`)
    })
  })
  server.on('connect', (req, socket, head) => {
    tunnel(ctx, req, socket, head).catch((error: unknown) => {
      failed(error)
      socket.destroy()
    })
  })
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    else socket.destroy()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  server.on('error', failed)
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : options.port

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
        for (const socket of sockets) socket.destroy()
      }),
  }
}
