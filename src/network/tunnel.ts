/**
 * `CONNECT host:port`: admitted like a plain request, then a raw TCP pipe to the checked address
 * after `200 Connection Established` (HTTPS and anything else; the proxy sees no content).
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { admit, connectFirst, describe, target, type ProxyContext } from './gate.js'

/** host and port of a CONNECT target ("example.com:443", "[::1]:8080"), normalised as URLs are. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.%]+\]|[^:[\]/@?#\\\s]+):(\d{1,5})$/.exec(authority)
  const port = Number(match?.[2])
  if (match?.[1] === undefined || !(port >= 1 && port <= 65535)) return undefined
  try {
    return { host: new URL(`http://${match[1]}`).hostname.replace(/^\[(.*)\]$/, '$1'), port }
  } catch {
    return undefined
  }
}

function rawReply(client: Duplex, status: number, text: string): void {
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
  ]
  client.end(`${head.join('\r\n')}\r\n\r\n${text}`)
}

/** How long one side may linger after the other closed before it is cut. */
const lingerMs = 10_000

export async function tunnel(
  ctx: ProxyContext,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
): Promise<void> {
  const at = Date.now()
  client.on('error', () => client.destroy())
  const dest = parseAuthority(req.url ?? '')
  if (dest === undefined) {
    rawReply(client, 400, `CONNECT needs host:port, not "${req.url ?? ''}".\n`)
    return
  }
  const { host, port } = dest
  const report = (type: 'allowed' | 'denied', reason?: string, socket?: Socket): void => {
    const bytes = { bytesIn: socket?.bytesRead ?? 0, bytesOut: socket?.bytesWritten ?? 0 }
    const why = reason === undefined ? {} : { reason }
    ctx.emit({
      type,
      host,
      port,
      kind: 'connect',
      ...why,
      ...bytes,
      at,
      durationMs: Date.now() - at,
    })
  }
  const admission = await admit(ctx, host, port)
  if (!admission.ok) {
    rawReply(client, admission.status, admission.text)
    report(admission.event, admission.reason)
    return
  }
  let upstream: Socket
  try {
    upstream = await connectFirst(ctx, admission.addresses, port)
  } catch (error) {
    const reason = `connection failed (${describe(error)})`
    rawReply(client, 502, `Safe Coder could not reach ${target(host, port)}: ${reason}.\n`)
    report('allowed', reason)
    return
  }
  if (client.destroyed) {
    upstream.destroy()
    report('allowed', 'the client went away')
    return
  }
  let failure: string | undefined
  upstream.on('error', (error) => {
    failure ??= `upstream failed (${describe(error)})`
    client.destroy()
  })
  let open = 2
  const closed = (other: Duplex) => (): void => {
    other.end()
    setTimeout(() => other.destroy(), lingerMs).unref()
    if (--open === 0) report('allowed', failure, upstream)
  }
  upstream.once('close', closed(client))
  client.once('close', closed(upstream))
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
  if (head.length > 0) upstream.write(head)
  upstream.pipe(client)
  client.pipe(upstream)
}
