import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http'
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'

export function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port
}

/** An HTTP server on 127.0.0.1 that answers with `handler`. */
export async function upstreamServer(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

/** A TCP echo server on 127.0.0.1. */
export async function echoServer(): Promise<ReturnType<typeof createTcpServer>> {
  const server = createTcpServer((socket) => socket.pipe(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

export async function closeServer(server: {
  close(cb: () => void): unknown
  closeAllConnections?: () => void
}): Promise<void> {
  server.closeAllConnections?.()
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve()
    }),
  )
}

export interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** A request through the proxy: `path` is the absolute URL (or anything, to test refusals). */
export function viaProxy(
  proxyPort: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: proxyPort,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Sends `CONNECT authority` (plus `extra` in the same write) and reads the response head. */
export function connectVia(
  proxyPort: number,
  authority: string,
  extra = '',
): Promise<{ status: number; head: string; socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxyPort, '127.0.0.1')
    let buffered = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.removeListener('data', onData)
      socket.pause()
      const head = buffered.subarray(0, end).toString()
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1])
      resolve({ status, head, socket, rest: buffered.subarray(end + 4) })
    }
    socket.on('data', onData)
    socket.on('error', reject)
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n${extra}`)
  })
}

/** Everything the socket sends until it closes, starting with `already`. */
export function readAll(socket: Socket, already: Buffer = Buffer.alloc(0)): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks = [already]
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('end', () => {
      resolve(Buffer.concat(chunks))
    })
    socket.on('error', reject)
    socket.resume()
  })
}

/** Reads exactly n bytes. */
export function readBytes(
  socket: Socket,
  n: number,
  already: Buffer = Buffer.alloc(0),
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = already
    if (got.length >= n) {
      resolve(got)
      return
    }
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk])
      if (got.length >= n) {
        socket.removeListener('data', onData)
        resolve(got)
      }
    }
    socket.on('data', onData)
    socket.on('error', reject)
    socket.resume()
  })
}

export async function waitFor<T>(probe: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('waitFor: timed out')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
