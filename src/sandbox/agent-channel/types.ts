/**
 * The host side of the guest agent (DESIGN.md §3, "one agent, two homes"): the same agent runs
 * as the main process of a container made from Safe Coder's image (over the attached stdio) and
 * as the guest agent of a microVM (over virtio-serial or vsock). Everything it says is hostile
 * input: the client caps sizes and validates every path before the host acts on it.
 */

import type { DirEntry, ExecIO, ExecRequest, ExecResult, FileStat } from '../types.js'

/** What the agent says about itself in the handshake. */
export interface AgentHello {
  protocol: number
  /** Agent build (Safe Coder version). */
  version: string
  /** `uname -r` where the agent runs. */
  kernel: string
  pid: number
  /** The directory it confines file operations to (normally /workspace). */
  root: string
  /** Optional behaviours it offers (`stdin-acks`); an older agent lists none. */
  features: string[]
}

/** One path that changed in /workspace since the last mark. Paths are relative, `/`-separated. */
export type WorkspaceChange =
  | { path: string; kind: 'file'; mode: number; size: number; sha256: string }
  /** A file over the cap asked for: only its size and mode (it is recorded as too large). */
  | { path: string; kind: 'too-large'; mode: number; size: number }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'dir'; mode: number }
  | { path: string; kind: 'deleted' }

export interface ChangeSet {
  changes: WorkspaceChange[]
  /** Paths the agent could not report (names that are not UTF-8, unreadable files), with why. */
  skipped: { path: string; reason: string }[]
}

/** Guest resource figures from /proc inside the sandbox. */
export interface AgentStats {
  /** Cumulative CPU time of the whole guest (user+system), seconds. */
  cpuSeconds: number
  cpuCount: number
  memoryTotalBytes: number
  memoryUsedBytes: number
  /** Processes running besides the agent. */
  pids: number
}

export interface AgentExecOptions extends ExecRequest {
  /** Run as this uid/gid (the agent must be root to switch). */
  user?: { uid: number; gid: number }
}

export interface AgentClientOptions {
  /** Largest frame accepted from the agent (bytes of payload). Default 1 MiB. */
  maxFrameBytes?: number
  /** Handshake deadline. Default 10 s. */
  helloTimeoutMs?: number
  /** Called once when the channel closes or breaks (with why, when it broke). */
  onClose?: (error?: Error) => void
}

/** One file a pull delivers. */
export interface PulledFile {
  path: string
  /** Permission bits. */
  mode: number
  size: number
}

/** Where one pulled file's bytes go, in order, as they arrive. */
export interface FileReceiver {
  write(chunk: Uint8Array): Promise<void>
  /** Every byte arrived and matched the agent's sha256: make it the file. */
  commit(): Promise<void>
  /** It did not arrive whole (it changed in the guest meanwhile, or the pull failed). */
  discard(): Promise<void>
}

/**
 * One connected agent. Requests may run concurrently (multiplexed by id). When the channel
 * breaks every pending request rejects with SANDBOX_GONE; a frame that breaks the protocol
 * closes the channel with SANDBOX_FAILED naming what was wrong.
 */
export interface AgentClient {
  readonly hello: AgentHello
  readonly closed: boolean
  exec(req: AgentExecOptions, io?: ExecIO): Promise<ExecResult>
  readFile(path: string, options?: { maxBytes?: number; signal?: AbortSignal }): Promise<Uint8Array>
  writeFile(
    path: string,
    data: Uint8Array,
    options?: { mode?: number; signal?: AbortSignal },
  ): Promise<void>
  stat(path: string, options?: { signal?: AbortSignal }): Promise<FileStat>
  list(path: string, options?: { signal?: AbortSignal }): Promise<DirEntry[]>
  /** Records the current state of the root as the baseline for `changes`. */
  mark(): Promise<{ files: number }>
  /**
   * What changed since the last mark (and re-marks). Files over `maxFileBytes` (64 MiB by
   * default) are not hashed: `too-large` changes where the agent can say so, skipped otherwise.
   */
  changes(options?: { maxFileBytes?: number }): Promise<ChangeSet>
  /**
   * Streams the named files (from the last `changes`), one at a time, into the receiver that
   * `receive` opens for each, chunk by chunk as they arrive (a slow receiver holds the channel
   * back); `commit` only once every byte arrived and matched its sha256. A file that changed
   * again meanwhile comes with its new content, or not at all (the next `changes` reports it).
   */
  pull(
    paths: string[],
    receive: (file: PulledFile) => Promise<FileReceiver>,
    options?: { maxFileBytes?: number; signal?: AbortSignal },
  ): Promise<{ pulled: number; missing: string[] }>
  stats(): Promise<AgentStats>
  /** Flushes and unmounts (in a VM), then the agent exits. */
  shutdown(timeoutMs?: number): Promise<void>
  /** Closes the channel without asking the agent (pending requests reject). */
  close(): void
}
