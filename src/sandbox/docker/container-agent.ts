import { stat } from 'node:fs/promises'
import { realpath } from 'node:fs/promises'
import path from 'node:path'
import { Duplex } from 'node:stream'
import type Docker from 'dockerode'
import type { MountSettings } from 'dockerode'
import { SafeCoderError } from '../../shared/errors.js'
import { connectAgent } from '../agent-channel/client.js'
import type { AgentClient } from '../agent-channel/types.js'
import { WORKSPACE } from '../types.js'
import { StreamDemuxer } from './demux.js'
import { sandboxError, startUnpaused } from './engine-errors.js'
import { defaultDistDir } from './dist-dir.js'

/** Where the host's Node binary and the built agent appear inside the container (read-only). */
const NODE_IN = '/opt/safe-coder/node'
const AGENT_IN = '/opt/safe-coder/agent'
const STDERR_TAIL = 4096
const HELLO_TIMEOUT_MS = 15_000

/** Host files the in-container agent runs from. */
export interface AgentAssets {
  node: string
  /** dist/guest: main.js and a package.json that makes Node load it as an ES module. */
  agentDir: string
}

/** The agent's files, or undefined when this install has none (then Engine-API exec is used). */
export async function locateAgent(dist = defaultDistDir()): Promise<AgentAssets | undefined> {
  const agentDir = path.join(dist, 'guest')
  const node = await realpath(process.execPath).catch(() => process.execPath)
  for (const file of [node, path.join(agentDir, 'main.js'), path.join(agentDir, 'package.json')]) {
    if ((await stat(file).catch(() => undefined))?.isFile() !== true) return undefined
  }
  return { node, agentDir }
}

/** The read-only mounts that put the agent into a sandbox container. */
export function agentMounts(assets: AgentAssets): MountSettings[] {
  return [
    { Type: 'bind', Source: assets.node, Target: NODE_IN, ReadOnly: true },
    { Type: 'bind', Source: assets.agentDir, Target: AGENT_IN, ReadOnly: true },
  ]
}

/**
 * The guest agent inside a running container, started on first use as one long-lived exec whose
 * attached stdio is the channel: every later exec and file operation is a message to it instead
 * of a new Engine-API exec (which spends tens of milliseconds creating the process).
 *
 * Not the container's main process: a command may kill it (`pkill node` in a Node project is
 * ordinary), and then the next call starts a new one instead of losing the container. When it
 * cannot start at all, `get` answers undefined and the caller uses Engine-API exec for good.
 */
export class ContainerAgent {
  #client: Promise<AgentClient> | undefined
  #unusable: SafeCoderError | undefined
  #stderr = ''

  constructor(
    private readonly container: Docker.Container,
    private readonly user: string,
    private readonly env: Record<string, string>,
  ) {}

  /** Why the agent could not be used, once it failed to start. */
  get unusable(): SafeCoderError | undefined {
    return this.#unusable
  }

  async get(): Promise<AgentClient | undefined> {
    if (this.#unusable !== undefined) return undefined
    const current = await this.#client?.catch(() => undefined)
    if (current !== undefined && !current.closed) return current
    this.#client = this.#start()
    try {
      return await this.#client
    } catch (error) {
      this.#unusable =
        error instanceof SafeCoderError
          ? error
          : sandboxError(this.container.id, 'starting the sandbox agent', error)
      return undefined
    }
  }

  close(): void {
    void this.#client?.then(
      (client) => {
        client.close()
      },
      () => undefined,
    )
  }

  async #start(): Promise<AgentClient> {
    // Started right after a commit's thaw: the engine may still call the container paused.
    const raw = await startUnpaused(async () => {
      const exec = await this.container.exec({
        Cmd: [NODE_IN, `${AGENT_IN}/main.js`, '--stdio', '--root', WORKSPACE],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        WorkingDir: WORKSPACE,
        User: this.user,
        Env: Object.entries(this.env).map(([k, v]) => `${k}=${v}`),
      })
      return exec.start({ hijack: true, stdin: true, Tty: false })
    })
    const channel = demuxedChannel(raw, (chunk) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-STDERR_TAIL)
    })
    try {
      return await connectAgent(channel, { helloTimeoutMs: HELLO_TIMEOUT_MS })
    } catch (error) {
      channel.destroy()
      const said = this.#stderr.trim()
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `The sandbox agent did not start in container ${this.container.id.slice(0, 12)}${said === '' ? '' : `: ${said.split('\n').slice(-3).join(' | ')}`}.`,
        {
          hint: 'It runs the host Node binary inside the image, which needs a glibc image such as safe-coder/sandbox; set [docker] agent = "off" to use Engine-API exec only.',
          cause: error,
        },
      )
    }
  }
}

/** A byte channel over an exec's hijacked stream: writes go to stdin, stdout comes back. */
function demuxedChannel(raw: Duplex, onStderr: (chunk: Buffer) => void): Duplex {
  const channel = new Duplex({
    read() {
      raw.resume()
    },
    write(chunk: Buffer, _encoding, callback) {
      raw.write(chunk, callback)
    },
    final(callback) {
      raw.end()
      callback()
    },
    destroy(error, callback) {
      raw.destroy()
      callback(error)
    },
  })
  const demux = new StreamDemuxer((which, chunk) => {
    if (which === 'stderr') onStderr(chunk)
    else if (!channel.push(chunk)) raw.pause()
  })
  raw.on('data', (data: Buffer) => {
    demux.push(data)
  })
  raw.once('end', () => channel.push(null))
  raw.once('close', () => channel.push(null))
  raw.once('error', (error) => channel.destroy(error))
  return channel
}
