/**
 * `exec`: runs one command in its own process group, streams its output as stdout/stderr
 * frames, and reports how it ended. The channel's backpressure pauses the command's pipes, so
 * a flood costs the agent no memory.
 */

import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import type { Readable } from 'node:stream'
import type { RequestContext } from './context.js'
import { killTree, MARKER_NAME } from './kill.js'
import { AgentError, isRoot, resolveInside, splitRelative, type Root } from './paths.js'
import { FrameKind, type ExitReport, type JsonObject } from './protocol.js'

/**
 * The agent shields itself from the OOM killer where it may (root in a VM: see `shieldFromOom`);
 * its commands inherit the shield, so each is put back to the default right after it starts —
 * a memory hog must be what the kernel kills, never the agent.
 */
function releaseOomShield(pid: number | undefined): void {
  if (pid === undefined || !oomShielded) return
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, '0')
  } catch {
    // Already gone.
  }
}

let oomShielded = false

/** Makes the OOM killer pass the agent over (needs privilege: a VM's root, not a container's user). */
export function shieldFromOom(): void {
  try {
    writeFileSync('/proc/self/oom_score_adj', '-1000')
    oomShielded = true
  } catch {
    // Not allowed here (a container's unprivileged agent): the cgroup's OOM killer picks the hog.
  }
}

/** How long the pipes may stay open after the command exited (background processes). */
const PIPE_GRACE_MS = 500
/** Upper bound on that wait while the channel is congested. */
const PIPE_GRACE_MAX_MS = 5000
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface ExecSpec {
  argv: string[]
  cwd: string
  env: Record<string, string>
  user: { uid: number; gid: number } | undefined
  stdin: boolean
  /** Acknowledge each stdin chunk once the command's pipe took it (host-side flow control). */
  stdinAcks: boolean
  timeoutMs: number | undefined
}

/** Checks an exec request's fields and its working directory (which must be a directory inside). */
export function parseExec(root: Root, request: JsonObject): ExecSpec {
  const { argv, env, user, stdin, stdinAcks, timeoutMs } = request
  if (
    !Array.isArray(argv) ||
    argv.length === 0 ||
    !argv.every((a): a is string => typeof a === 'string' && !a.includes('\0'))
  ) {
    throw new AgentError('BAD_REQUEST', 'argv must be a non-empty list of strings without NUL')
  }
  const names = splitRelative(request.cwd)
  const resolved = resolveInside(root, names, { followLast: true })
  if (resolved.stat === undefined) throw new AgentError('MISSING', 'no such file or directory')
  if (!resolved.stat.isDirectory()) throw new AgentError('WRONG_KIND', 'not a directory')
  const cleanEnv: Record<string, string> = {}
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null || Array.isArray(env)) {
      throw new AgentError('BAD_REQUEST', 'env must be an object')
    }
    for (const [key, value] of Object.entries(env as Record<string, unknown>)) {
      if (typeof value !== 'string' || key === '' || /[=\0]/.test(key) || value.includes('\0')) {
        throw new AgentError('BAD_REQUEST', `env entry ${JSON.stringify(key)} is not valid`)
      }
      cleanEnv[key] = value
    }
  }
  let cleanUser: ExecSpec['user']
  if (user !== undefined && user !== null) {
    const { uid, gid } = user as { uid?: unknown; gid?: unknown }
    if (!isId(uid) || !isId(gid)) throw new AgentError('BAD_REQUEST', 'user must be {uid, gid}')
    cleanUser = { uid, gid }
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)
  ) {
    throw new AgentError('BAD_REQUEST', 'timeoutMs must be a non-negative number')
  }
  return {
    argv,
    cwd: names.length === 0 ? root.real : `${root.real}/${names.join('/')}`,
    env: cleanEnv,
    user: cleanUser,
    stdin: stdin === true,
    stdinAcks: stdin === true && stdinAcks === true,
    timeoutMs,
  }
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 32
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (typeof value === 'string') env[key] = value
  }
  if (!('PATH' in env)) env.PATH = DEFAULT_PATH
  return env
}

/**
 * Runs the command; resolves with its exit report once it exited and its pipes closed (or the
 * grace after its exit ran out). Never rejects: a command that cannot start reports 127/126
 * with the reason on stderr, as a container runtime does.
 */
export function runExec(
  ctx: RequestContext,
  spec: ExecSpec,
  marker: string,
  onKill: (kill: () => void) => () => void,
): Promise<ExitReport> {
  return new Promise<ExitReport>((resolve) => {
    let child: ChildProcess
    const env = { ...baseEnv(), ...spec.env, PWD: spec.cwd, [MARKER_NAME]: marker }
    const asUser = spec.user !== undefined && isRoot() ? spec.user : undefined
    try {
      child = spawn(spec.argv[0] as string, spec.argv.slice(1), {
        cwd: spec.cwd,
        env,
        detached: true,
        stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        ...(asUser === undefined ? {} : { uid: asUser.uid, gid: asUser.gid }),
      })
    } catch (error) {
      resolve(cannotStart(ctx, spec.argv[0] as string, error))
      return
    }

    releaseOomShield(child.pid)
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
    let timedOut = false
    let finished = false
    let openPipes = 2
    let congested = false
    let graceTimer: NodeJS.Timeout | undefined
    const pipes = [child.stdout, child.stderr].filter((p): p is Readable => p !== null)

    const kill = (): void => {
      killTree(child.pid, marker)
    }
    const unregister = onKill(kill)
    const timer =
      spec.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            kill()
          }, spec.timeoutMs)
    const onAbort = (): void => {
      kill()
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true })

    const finish = (report: ExitReport): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      clearInterval(graceTimer)
      ctx.signal.removeEventListener('abort', onAbort)
      unregister()
      ctx.onData = undefined
      ctx.onControl = undefined
      for (const pipe of pipes) {
        pipe.removeAllListeners('data')
        pipe.destroy()
      }
      child.stdin?.destroy()
      resolve(report)
    }
    const report = (): void => {
      if (exit === undefined) return
      const { code, signal } = exit
      finish({
        ok: true,
        exitCode: code ?? (signal === null ? null : 128 + constants.signals[signal]),
        signal,
        timedOut,
      })
    }
    const forward = (kind: FrameKind) => (chunk: Buffer) => {
      if (finished) return
      let ok = true
      for (let at = 0; at < chunk.length; at += ctx.maxFrame) {
        ok = ctx.write(kind, chunk.subarray(at, at + ctx.maxFrame)) && ok
      }
      if (!ok && !congested) {
        congested = true
        for (const pipe of pipes) pipe.pause()
        void ctx.drained().then(() => {
          congested = false
          if (!finished) for (const pipe of pipes) pipe.resume()
        })
      }
    }
    child.stdout?.on('data', forward(FrameKind.stdout))
    child.stderr?.on('data', forward(FrameKind.stderr))
    for (const pipe of pipes) {
      pipe.on('error', () => undefined)
      pipe.on('close', () => {
        openPipes--
        if (openPipes === 0) report()
      })
    }
    child.stdin?.on('error', () => undefined)

    child.on('exit', (code, signal) => {
      exit = { code, signal }
      if (openPipes === 0) {
        report()
        return
      }
      // Background processes may hold the pipes; wait a little, then report without them.
      let idle = 0
      let total = 0
      graceTimer = setInterval(() => {
        total += 50
        if (!congested) idle += 50
        if (idle >= PIPE_GRACE_MS || total >= PIPE_GRACE_MAX_MS) report()
      }, 50)
    })
    child.on('error', (error) => {
      if (child.pid === undefined) finish(cannotStart(ctx, spec.argv[0] as string, error))
    })

    ctx.onData = (kind, payload) => {
      const stdin = child.stdin
      if (kind !== FrameKind.stdin || stdin === null || !stdin.writable) return
      // The host sends more only as the command takes it in: input never piles up here.
      stdin.write(payload, () => {
        if (spec.stdinAcks) void ctx.sendJson({ more: true, stdinAck: payload.length })
      })
    }
    ctx.onControl = (op) => {
      if (op === 'end') child.stdin?.end()
      else if (op === 'kill' || op === 'cancel') kill()
    }
  })
}

/** The report of a command that never started, with the reason on its stderr. */
function cannotStart(ctx: RequestContext, command: string, error: unknown): ExitReport {
  const code = (error as { code?: unknown }).code
  const why =
    code === 'ENOENT'
      ? 'executable file not found in $PATH'
      : code === 'EACCES'
        ? 'permission denied'
        : error instanceof Error
          ? error.message
          : String(error)
  ctx.write(FrameKind.stderr, Buffer.from(`exec: ${JSON.stringify(command)}: ${why}\n`))
  return { ok: true, exitCode: code === 'ENOENT' ? 127 : 126, signal: null, timedOut: false }
}
