import type { Duplex } from 'node:stream'
import type Docker from 'dockerode'
import { sleep } from '../../shared/abort.js'
import type { ExecIO } from '../types.js'
import { StreamDemuxer } from './demux.js'
import { isGone, sandboxError } from './engine-errors.js'
import { KILL_SCRIPT } from './kill-script.js'
import { CappedBuffer } from './output-buffer.js'
import { ReadHolds } from '../read-holds.js'
import { isStdinStream, pumpStdin } from '../stdin-source.js'

export const DEFAULT_MAX_OUTPUT = 10 * 1024 * 1024
/** How long a killed exec may take to close its stream before we stop waiting for it. */
const KILL_GRACE_MS = 5000

export interface EngineExecRequest {
  execId: string
  argv: string[]
  cwd: string
  env: Record<string, string>
  user: string
  /** Bytes for the command's stdin, or a stream forwarded with backpressure; absent: empty. */
  stdin?: Buffer | AsyncIterable<Uint8Array> | undefined
  timeoutMs?: number | undefined
  maxOutputBytes: number
}

/**
 * Runs the part of an exec that the engine refuses while the container is paused (creating and
 * starting it); a sandbox passes its freeze gate's `thawed` here.
 */
export type ExecStarter = <T>(start: () => Promise<T>) => Promise<T>

const startNow: ExecStarter = (start) => start()

export interface RawExecResult {
  exitCode: number | null
  stdout: Buffer
  stderr: Buffer
  durationMs: number
  timedOut: boolean
  aborted: boolean
  truncatedBytes: number
}

/**
 * One exec through the Engine API: streamed, demultiplexed, capped in memory, killed (with
 * every process it started) on timeout or abort. Resolves with the exit status; rejects only
 * when the sandbox or the engine failed.
 */
export async function runEngineExec(
  container: Docker.Container,
  req: EngineExecRequest,
  io: ExecIO = {},
  starter: ExecStarter = startNow,
): Promise<RawExecResult> {
  const started = performance.now()
  const hasStdin = req.stdin !== undefined
  let attached: { exec: Docker.Exec; stream: Duplex }
  try {
    attached = await starter(async () => {
      const created = await container.exec({
        Cmd: req.argv,
        AttachStdin: hasStdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        WorkingDir: req.cwd,
        User: req.user,
        Env: Object.entries({ ...req.env, SAFE_CODER_EXEC: req.execId }).map(
          ([k, v]) => `${k}=${v}`,
        ),
      })
      return {
        exec: created,
        stream: await created.start({ hijack: true, stdin: hasStdin, Tty: false }),
      }
    })
  } catch (error) {
    throw sandboxError(container.id, `starting \`${req.argv.join(' ')}\``, error)
  }
  const { exec, stream } = attached

  const stdout = new CappedBuffer(req.maxOutputBytes)
  const stderr = new CappedBuffer(req.maxOutputBytes)
  // A slow reader pauses the exec's stream: the daemon stops reading the command's pipes.
  const holds = new ReadHolds(stream)
  const demux = new StreamDemuxer((which, chunk) => {
    if (which === 'stdout') {
      stdout.push(chunk)
      io.onStdout?.(chunk)
    } else {
      stderr.push(chunk)
      io.onStderr?.(chunk)
    }
    const wait = io.waitForReader?.()
    if (wait !== undefined) holds.hold(wait)
  })
  stream.on('data', (data: Buffer) => {
    demux.push(data)
  })

  let timedOut = false
  let aborted = false
  let killing: Promise<void> | undefined
  let grace: NodeJS.Timeout | undefined
  const kill = (): void => {
    killing ??= killExec(container, req.execId, req.user, starter).then(() => {
      // Everything is dead; a stream still open now would never close by itself.
      grace = setTimeout(() => stream.destroy(), KILL_GRACE_MS)
    })
  }
  const timer =
    req.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true
          kill()
        }, req.timeoutMs)
  const onAbort = (): void => {
    aborted = true
    kill()
  }
  if (io.signal?.aborted === true) onAbort()
  else io.signal?.addEventListener('abort', onAbort, { once: true })

  const ended = waitForEnd(stream)
  let finished = false
  void ended.finally(() => (finished = true)).catch(() => undefined)
  // Closing our half of the connection is what closes the command's stdin.
  if (isStdinStream(req.stdin)) void pumpStdin(req.stdin, stream, () => finished)
  else if (req.stdin !== undefined) stream.end(req.stdin)

  try {
    await ended
  } catch (error) {
    throw sandboxError(container.id, `running \`${req.argv.join(' ')}\``, error)
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    io.signal?.removeEventListener('abort', onAbort)
    if (killing !== undefined) await killing
    clearTimeout(grace)
  }
  const exitCode = await readExitCode(exec, container, req)
  return {
    exitCode,
    stdout: stdout.toBuffer(),
    stderr: stderr.toBuffer(),
    durationMs: performance.now() - started,
    timedOut,
    aborted,
    truncatedBytes: stdout.dropped + stderr.dropped,
  }
}

/** Resolves when the exec's stream closes, rejects when the connection to the engine fails. */
function waitForEnd(stream: Duplex): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.once('end', resolve)
    stream.once('close', resolve)
    stream.once('error', reject)
  })
}

/** The exit code, once the engine has recorded it (it can lag the stream's end slightly). */
async function readExitCode(
  exec: Docker.Exec,
  container: Docker.Container,
  req: EngineExecRequest,
): Promise<number | null> {
  for (let attempt = 0; attempt < 50; attempt++) {
    let info: Docker.ExecInspectInfo
    try {
      info = await exec.inspect()
    } catch (error) {
      throw sandboxError(container.id, `reading the exit code of \`${req.argv.join(' ')}\``, error)
    }
    if (!info.Running) {
      if (info.ExitCode === null || info.ExitCode === 137) await assertRunning(container, req)
      return info.ExitCode
    }
    await sleep(attempt < 10 ? 5 : 20)
  }
  await assertRunning(container, req)
  return null
}

/**
 * A stream that ends because the container died must not look like a normal exit. The engine
 * records the exec's end before the container's, so a SIGKILL-like status is re-checked for a
 * moment before it is believed.
 */
async function assertRunning(container: Docker.Container, req: EngineExecRequest): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    let state: Docker.ContainerInspectInfo['State']
    try {
      state = (await container.inspect()).State
    } catch (error) {
      throw sandboxError(container.id, `running \`${req.argv.join(' ')}\``, error)
    }
    if (!state.Running || state.Restarting) {
      const oom = state.OOMKilled ? ', killed by the out-of-memory killer' : ''
      throw sandboxError(
        container.id,
        `running \`${req.argv.join(' ')}\``,
        Object.assign(new Error(`the container stopped (exit code ${state.ExitCode}${oom})`), {
          statusCode: 409,
        }),
      )
    }
    await sleep(50)
  }
}

/**
 * Kills the exec's whole process tree from a second exec; never throws. When even that exec
 * cannot start (a fork bomb holding every pid), restarts the container as the last resort:
 * the mirror survives, the runaway processes do not.
 */
async function killExec(
  container: Docker.Container,
  execId: string,
  user: string,
  starter: ExecStarter,
): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const { killer, stream } = await starter(async () => {
        const created = await container.exec({
          Cmd: ['/bin/sh', '-c', KILL_SCRIPT, 'safe-coder-kill', execId],
          AttachStdout: true,
          AttachStderr: true,
          User: user,
        })
        return { killer: created, stream: await created.start({ hijack: true, stdin: false }) }
      })
      stream.resume()
      const done = new AbortController()
      await Promise.race([
        new Promise((resolve) => {
          stream.once('end', resolve)
          stream.once('close', resolve)
          stream.once('error', resolve)
        }),
        sleep(KILL_GRACE_MS, done.signal).catch(() => undefined),
      ])
      // Detach the timer, or it keeps the process alive for the whole grace period.
      done.abort()
      const { ExitCode } = await killer.inspect()
      if (ExitCode === 0) return
    } catch (error) {
      // A gone container is the caller's to report when it reads the exit code.
      if (isGone(error)) return
    }
    await sleep(100 * (attempt + 1))
  }
  await container.restart({ t: 0 }).catch(() => undefined)
}
