/**
 * Entry of the guest agent (docs/guest-agent.md):
 *
 *   node main.js --stdio  [--root /workspace]   fd 0/1 (a container's attached stdio, socat from vsock)
 *   node main.js --device /dev/vport0p1 [--root /workspace]   a virtio-serial port (QEMU)
 *
 * Diagnostics go to stderr only; nothing but frames is ever written to the channel.
 */

import { createReadStream, createWriteStream, fstatSync } from 'node:fs'
import { Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'
import { Agent, type ConnectionEnd } from './agent.js'
import { openDevice, type DeviceStreams } from './device.js'
import { shieldFromOom } from './exec.js'
import { openRoot, type Root } from './paths.js'
import { AGENT_VERSION } from './version.js'

const REOPEN_DELAY_MS = 100
/** Exit status after the host sent a malformed frame (sysexits EX_DATAERR). */
const EXIT_PROTOCOL = 65

const USAGE = `usage: main.js --stdio [--root DIR]
       main.js --device PATH [--root DIR]`

function log(line: string): void {
  process.stderr.write(`safe-coder-agent[${process.pid}]: ${line}\n`)
}

interface Args {
  mode: 'stdio' | 'device'
  device: string
  root: string
}

function parseArgs(argv: string[]): Args | string {
  let mode: Args['mode'] | undefined
  let device = ''
  let root = '/workspace'
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--stdio') mode = 'stdio'
    else if (arg === '--device') {
      mode = 'device'
      device = argv[++i] ?? ''
      if (device === '') return '--device needs a path'
    } else if (arg === '--root') {
      root = argv[++i] ?? ''
      if (root === '') return '--root needs a directory'
    } else if (arg === '--version') {
      return `version ${AGENT_VERSION}`
    } else return `unknown argument ${JSON.stringify(arg)}`
  }
  if (mode === undefined) return 'choose --stdio or --device PATH'
  return { mode, device, root }
}

/** A stream on an inherited fd: sockets and pipes go through libuv's event loop, the rest through fs. */
function readableOn(fd: number): Readable {
  const info = fstatSync(fd)
  if (info.isFIFO() || info.isSocket()) {
    return new Socket({ fd, readable: true, writable: false, allowHalfOpen: true })
  }
  return createReadStream('', { fd, autoClose: false })
}

function writableOn(fd: number): Writable {
  const info = fstatSync(fd)
  if (info.isFIFO() || info.isSocket()) {
    return new Socket({ fd, readable: false, writable: true, allowHalfOpen: true })
  }
  return createWriteStream('', { fd, autoClose: false })
}

async function runStdio(agent: Agent): Promise<never> {
  const output = writableOn(1)
  const connection = agent.connect(readableOn(0), output, { device: false })
  const end = await connection.done
  agent.killAll()
  describeEnd(end)
  const status = end.reason === 'protocol' ? EXIT_PROTOCOL : 0
  // Let the last frames (the shutdown reply, the protocol error) leave before exiting.
  const timer = setTimeout(() => process.exit(status), 1000)
  output.end(() => {
    clearTimeout(timer)
    process.exit(status)
  })
  return new Promise<never>(() => undefined)
}

async function runDevice(agent: Agent, path: string): Promise<never> {
  const prefer = process.env.SAFE_CODER_AGENT_DEVICE_IO === 'poll' ? 'poll' : 'epoll'
  let lastError = ''
  let announced = false
  for (;;) {
    let device: DeviceStreams
    try {
      device = openDevice(path, prefer)
    } catch (error) {
      // ENOENT until the port appears, EBUSY while another process holds it.
      const message = error instanceof Error ? error.message : String(error)
      if (message !== lastError) log(`cannot open ${path}: ${message}; retrying`)
      lastError = message
      await delay(REOPEN_DELAY_MS)
      continue
    }
    lastError = ''
    if (!announced) log(`serving ${path} (${device.mode})`)
    announced = true
    const end = await agent.connect(device.input, device.output, { device: true }).done
    // No host on the port reads as EOF over and over: stay quiet about it.
    if (end.reason !== 'eof') describeEnd(end)
    agent.killAll()
    device.close()
    if (end.reason === 'shutdown') process.exit(0)
    await delay(REOPEN_DELAY_MS)
  }
}

function describeEnd(end: ConnectionEnd): void {
  switch (end.reason) {
    case 'eof':
      log('the host closed the channel')
      break
    case 'error':
      log(`the channel failed: ${end.detail}`)
      break
    case 'protocol':
      log(`closing: the host broke the protocol (${end.detail})`)
      break
    case 'shutdown':
      log('shutting down on request')
      break
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  if (typeof args === 'string') {
    if (args.startsWith('version')) {
      process.stdout.write(`${AGENT_VERSION}\n`)
      process.exit(0)
    }
    process.stderr.write(`${args}\n${USAGE}\n`)
    process.exit(64)
  }
  // Nothing may reach the channel but frames.
  console.log = console.error
  console.info = console.error
  let root: Root
  try {
    root = openRoot(args.root)
  } catch (error) {
    log(
      `cannot use the root ${args.root}: ${error instanceof Error ? error.message : String(error)}`,
    )
    process.exit(66)
  }
  const agent = new Agent(root, log)
  // The agent outlives any one request's bug: report it and go on.
  process.on('uncaughtException', (error) => {
    log(`internal error: ${error.stack ?? error.message}`)
  })
  process.on('unhandledRejection', (reason) => {
    log(
      `internal error: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    )
  })
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      agent.killAll()
      process.exit(0)
    })
  }
  log(
    `version ${AGENT_VERSION}, root ${root.logical}, ${args.mode === 'stdio' ? 'stdio' : args.device}`,
  )
  // Root in a VM: a command that eats the memory must not take the agent with it. (Refused in a
  // container, whose capabilities are dropped; its cgroup's OOM killer picks the hog anyway.)
  shieldFromOom()
  await (args.mode === 'stdio' ? runStdio(agent) : runDevice(agent, args.device))
}

void main()
