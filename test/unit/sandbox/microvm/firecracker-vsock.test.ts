import net from 'node:net'
import path from 'node:path'
import type { Duplex } from 'node:stream'
import { describe, expect, it, onTestFinished } from 'vitest'
import { connectVsock } from '../../../../src/sandbox/microvm/firecracker/index.js'
import { SafeCoderError } from '../../../../src/shared/errors.js'
import { tempDir } from '../../../helpers/sandbox.js'

/**
 * A unix socket server standing in for Firecracker's vsock muxer: `onConnection` gets each
 * connection and the CONNECT line the host sent.
 */
async function muxer(
  onConnection: (socket: net.Socket, line: string, index: number) => void,
  socketPath?: string,
): Promise<{ path: string; connections: () => number; lines: string[] }> {
  const file = socketPath ?? path.join(await tempDir('sc-fc-vsock-'), 'v.sock')
  let count = 0
  const lines: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    const index = count++
    let buffered = ''
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1')
      const newline = buffered.indexOf('\n')
      if (newline < 0) return
      socket.off('data', onData)
      const line = buffered.slice(0, newline)
      lines.push(line)
      onConnection(socket, line, index)
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(file, resolve))
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve()
      }),
    )
  })
  return { path: file, connections: () => count, lines }
}

function readAll(stream: Duplex, bytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8')
      if (text.length >= bytes) {
        stream.off('data', onData)
        resolve(text)
      }
    }
    stream.on('data', onData)
    stream.on('error', reject)
  })
}

async function rejection(promise: Promise<unknown>): Promise<SafeCoderError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof SafeCoderError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

describe('connectVsock', () => {
  it('sends CONNECT <port>, accepts OK <n> and hands over the stream', async () => {
    const server = await muxer((socket) => {
      socket.write('OK 1073741824\n')
      socket.pipe(socket)
    })
    const stream = await connectVsock(server.path, 1024)
    onTestFinished(() => {
      stream.destroy()
    })
    expect(server.lines).toEqual(['CONNECT 1024'])
    stream.write('ping')
    expect(await readAll(stream, 4)).toBe('ping')
  })

  it('keeps bytes that arrived in the same read as the OK line', async () => {
    const server = await muxer((socket) => {
      // One write: the acknowledgement and the agent's first bytes together.
      socket.write('OK 1073741825\nHELLO')
      setTimeout(() => socket.write(' WORLD'), 30)
    })
    const stream = await connectVsock(server.path, 52)
    onTestFinished(() => {
      stream.destroy()
    })
    // A plain 'data' listener sees everything, starting with the pushed-back bytes.
    expect(await readAll(stream, 11)).toBe('HELLO WORLD')
  })

  it('keeps the bytes for pipe() and read() consumers too', async () => {
    const server = await muxer((socket) => {
      socket.write('OK 7\nABC')
    })
    const stream = await connectVsock(server.path, 1024)
    onTestFinished(() => {
      stream.destroy()
    })
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(String(stream.read(3))).toBe('ABC')
  })

  it('accepts an OK line split over several reads', async () => {
    const server = await muxer((socket) => {
      socket.write('O')
      setTimeout(() => socket.write('K 12'), 10)
      setTimeout(() => socket.write('3\nX'), 20)
    })
    const stream = await connectVsock(server.path, 1024)
    onTestFinished(() => {
      stream.destroy()
    })
    expect(await readAll(stream, 1)).toBe('X')
  })

  it('fails at once, quoting the line, when the answer is not OK <port>', async () => {
    const server = await muxer((socket) => {
      socket.end('HTTP/1.1 400 Bad Request\n')
    })
    const error = await rejection(connectVsock(server.path, 1024, { timeoutMs: 5000 }))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toBe(
      `Firecracker's vsock answered CONNECT 1024 with "HTTP/1.1 400 Bad Request" (expected "OK <port>")`,
    )
    expect(server.connections()).toBe(1)
  })

  it('fails on an endless line without a newline', async () => {
    const server = await muxer((socket) => {
      socket.write('x'.repeat(100))
    })
    const error = await rejection(connectVsock(server.path, 1024, { timeoutMs: 5000 }))
    expect(error.message).toMatch(/answered CONNECT 1024 with "x{64}…"/)
  })

  it('retries while the guest is booting: closed connections, then OK', async () => {
    const server = await muxer((socket, _line, index) => {
      // Nobody listens on the port yet: Firecracker closes the host connection.
      if (index < 3) socket.destroy()
      else socket.end('OK 99\nready')
    })
    const stream = await connectVsock(server.path, 1024, { retryDelayMs: 5 })
    onTestFinished(() => {
      stream.destroy()
    })
    expect(server.connections()).toBe(4)
    expect(await readAll(stream, 5)).toBe('ready')
  })

  it('retries while the socket is refused or missing, then connects', async () => {
    const dir = await tempDir('sc-fc-vsock-')
    const file = path.join(dir, 'late.sock')
    setTimeout(() => {
      void muxer((socket) => {
        socket.write('OK 1\n')
      }, file)
    }, 150)
    const stream = await connectVsock(file, 1024, { retryDelayMs: 10 })
    stream.destroy()
  })

  it('waits on an attempt Firecracker holds, rather than dropping it', async () => {
    const server = await muxer((socket) => {
      // The guest's vsock driver comes up late; the held CONNECT is then accepted.
      setTimeout(() => socket.write('OK 8\nlate'), 400)
    })
    const stream = await connectVsock(server.path, 1024, { retryDelayMs: 5 })
    onTestFinished(() => {
      stream.destroy()
    })
    expect(server.connections()).toBe(1)
    expect(await readAll(stream, 4)).toBe('late')
  })

  it('abandons and retries an attempt after attemptTimeoutMs, when asked to', async () => {
    const server = await muxer((socket, _line, index) => {
      if (index > 0) socket.write('OK 5\n')
      // The first connection hangs: the guest driver is not up yet.
    })
    const stream = await connectVsock(server.path, 1024, { attemptTimeoutMs: 100, retryDelayMs: 5 })
    stream.destroy()
    expect(server.connections()).toBe(2)
  })

  it('gives up at the deadline with the last reason', async () => {
    const server = await muxer((socket) => {
      socket.destroy()
    })
    const error = await rejection(
      connectVsock(server.path, 1024, { timeoutMs: 300, retryDelayMs: 10 }),
    )
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(
      /^Nothing answered on guest vsock port 1024 within 300 ms \(\d+ attempts; last: the connection was closed without an OK line\)\.$/,
    )
  })

  it('stops when the VM is gone, or when cancelled', async () => {
    const server = await muxer((socket) => {
      socket.destroy()
    })
    let gone: string | undefined
    setTimeout(() => (gone = 'exit 1'), 100)
    const error = await rejection(
      connectVsock(server.path, 1024, { retryDelayMs: 10, gone: () => gone }),
    )
    expect(error.message).toBe(
      'The microVM stopped (exit 1) before anything answered on vsock port 1024.',
    )

    const controller = new AbortController()
    setTimeout(() => {
      controller.abort()
    }, 100)
    const aborted = await rejection(
      connectVsock(server.path, 1024, { retryDelayMs: 10, signal: controller.signal }),
    )
    expect(aborted.code).toBe('ABORTED')
  })
})
