/**
 * Streams on a character device (the virtio-serial port under QEMU), without ever blocking a
 * thread: a blocked read(2) in libuv's threadpool would stop the process from exiting, and a
 * write(2) blocked while no host is connected would hold the port open (EBUSY on reopen).
 *
 * The device is opened non-blocking. Preferably libuv's own stream handle watches it with epoll
 * (Node exposes no public constructor for that on a char device, so this uses the pipe handle,
 * which works on any pollable fd). Without it, a polling reader/writer retries EAGAIN with a
 * short backoff.
 */

import { closeSync, constants, openSync, read, write } from 'node:fs'
import { Socket } from 'node:net'
import { Readable, Writable } from 'node:stream'

export interface DeviceStreams {
  input: Readable
  output: Writable
  /** 'epoll' (libuv watches the fd) or 'poll' (EAGAIN backoff). */
  mode: 'epoll' | 'poll'
  /** Closes the device. Idempotent. */
  close(): void
}

interface PipeHandle {
  open(fd: number): number
}
interface PipeBinding {
  Pipe: new (type: number) => PipeHandle
  constants: { SOCKET: number }
}

const MAX_BACKOFF_MS = 20

export function openDevice(path: string, prefer: 'epoll' | 'poll' = 'epoll'): DeviceStreams {
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY)
  if (prefer === 'epoll') {
    const socket = epollSocket(fd)
    if (socket !== undefined) {
      return {
        input: socket,
        output: socket,
        mode: 'epoll',
        close: () => socket.destroy(),
      }
    }
  }
  return pollingStreams(fd)
}

function epollSocket(fd: number): Socket | undefined {
  try {
    const binding = (process as unknown as { binding?: (name: string) => unknown }).binding?.(
      'pipe_wrap',
    ) as PipeBinding | undefined
    if (binding === undefined) return undefined
    const handle = new binding.Pipe(binding.constants.SOCKET)
    if (handle.open(fd) !== 0) return undefined
    return new Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as never)
  } catch {
    return undefined
  }
}

function pollingStreams(fd: number): DeviceStreams {
  let closed = false
  const timers = new Set<NodeJS.Timeout>()
  const later = (ms: number, run: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      run()
    }, ms)
    timers.add(timer)
  }
  const backoff = (ms: number): number => Math.min(MAX_BACKOFF_MS, ms === 0 ? 1 : ms * 2)

  let reading = false
  let readDelay = 0
  const input = new Readable({
    read() {
      if (reading || closed) return
      reading = true
      const poll = (): void => {
        if (closed) return
        const buffer = Buffer.allocUnsafe(64 * 1024)
        read(fd, buffer, 0, buffer.length, null, (error, bytes) => {
          if (closed) return
          if (error !== null) {
            if (error.code === 'EAGAIN') {
              readDelay = backoff(readDelay)
              later(readDelay, poll)
              return
            }
            input.destroy(error)
            return
          }
          readDelay = 0
          if (bytes === 0) {
            input.push(null)
            return
          }
          if (input.push(buffer.subarray(0, bytes))) setImmediate(poll)
          else reading = false
        })
      }
      poll()
    },
  })

  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      let offset = 0
      let delay = 0
      const attempt = (): void => {
        if (closed) {
          callback(new Error('the device is closed'))
          return
        }
        write(fd, chunk, offset, chunk.length - offset, null, (error, written) => {
          if (error !== null) {
            if (error.code !== 'EAGAIN') {
              callback(error)
              return
            }
            delay = backoff(delay)
            later(delay, attempt)
            return
          }
          offset += written
          delay = 0
          if (offset < chunk.length) attempt()
          else callback()
        })
      }
      attempt()
    },
  })

  return {
    input,
    output,
    mode: 'poll',
    close: () => {
      if (closed) return
      closed = true
      for (const timer of timers) clearTimeout(timer)
      input.destroy()
      output.destroy()
      try {
        closeSync(fd)
      } catch {
        // Closed already.
      }
    },
  }
}
