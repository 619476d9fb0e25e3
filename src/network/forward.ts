/**
 * Plain HTTP through the proxy: `GET http://host:port/path` is admitted, sent upstream over a
 * socket to the checked address, and streamed back; bodies flow both ways without buffering.
 */
import {
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http'
import type { Socket } from 'node:net'
import { admit, connectFirst, describe, target, type ProxyContext } from './gate.js'

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** Headers minus the hop-by-hop ones (and those the Connection header names). */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = (headers.connection ?? '').split(',').map((name) => name.trim().toLowerCase())
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !hopByHop.has(name) && !named.includes(name)) out[name] = value
  }
  return out
}

export function reply(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

const notAProxyRequest =
  "This is Safe Coder's egress proxy: it forwards absolute http:// URLs " +
  '(GET http://host/path) and tunnels CONNECT host:port (HTTPS). Point HTTP_PROXY and ' +
  'HTTPS_PROXY at it rather than requesting it directly.\n'

function absoluteHttpUrl(raw: string | undefined): URL | undefined {
  if (raw === undefined || !/^http:\/\//i.test(raw)) return undefined
  try {
    return new URL(raw)
  } catch {
    return undefined
  }
}

export async function forwardHttp(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const at = Date.now()
  const url = absoluteHttpUrl(req.url)
  if (url === undefined) {
    reply(res, 400, notAProxyRequest)
    return
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = url.port === '' ? 80 : Number(url.port)
  const method = req.method ?? 'GET'
  const report = (type: 'allowed' | 'denied', reason?: string, socket?: Socket): void => {
    const bytes = { bytesIn: socket?.bytesRead ?? 0, bytesOut: socket?.bytesWritten ?? 0 }
    const why = reason === undefined ? {} : { reason }
    const durationMs = Date.now() - at
    ctx.emit({
      type,
      host,
      port,
      kind: 'http',
      method,
      path: url.pathname,
      ...why,
      ...bytes,
      at,
      durationMs,
    })
  }
  const admission = await admit(ctx, host, port)
  if (!admission.ok) {
    reply(res, admission.status, admission.text)
    report(admission.event, admission.reason)
    return
  }
  let socket: Socket
  try {
    socket = await connectFirst(ctx, admission.addresses, port)
  } catch (error) {
    const reason = `connection failed (${describe(error)})`
    reply(res, 502, `Safe Coder could not reach ${target(host, port)}: ${reason}.\n`)
    report('allowed', reason)
    return
  }
  if (req.socket.destroyed) {
    socket.destroy()
    report('allowed', 'the client went away')
    return
  }
  let failure: string | undefined
  let closed = false
  const fail = (error: unknown): void => {
    if (closed) return
    failure ??= `upstream failed (${describe(error)})`
    reply(res, 502, `Safe Coder could not reach ${target(host, port)}: ${failure}.\n`)
  }
  const headers = { ...endToEndHeaders(req.headers), host: url.host, connection: 'close' }
  const upstream = request({
    createConnection: () => socket,
    method,
    path: `${url.pathname}${url.search}`,
    headers,
  })
  upstream.on('error', fail)
  upstream.on('response', (incoming) => {
    incoming.on('error', fail)
    incoming.on('aborted', () => {
      fail(new Error('the response was cut short'))
    })
    res.writeHead(
      incoming.statusCode ?? 502,
      incoming.statusMessage,
      endToEndHeaders(incoming.headers),
    )
    incoming.pipe(res)
  })
  res.once('close', () => {
    closed = true
    upstream.destroy()
    socket.destroy()
    report(
      'allowed',
      failure ?? (res.writableFinished ? undefined : 'the client went away'),
      socket,
    )
  })
  req.pipe(upstream)
}
