/**
 * The sandbox contract (DESIGN.md §3). The session drives every backend through these types
 * and never learns which one it has.
 */

import type { NetworkPolicy, ProxyEvent } from '../network/types.js'

export type BackendKind = 'docker' | 'podman' | 'qemu' | 'firecracker'

/** Where the sandbox sees the project. Every path given to a Sandbox is confined here. */
export const WORKSPACE = '/workspace'

export interface ProbeResult {
  kind: BackendKind
  available: boolean
  /** One line: what was found ("Docker Engine 20.10.24 at /var/run/docker.sock"). */
  summary: string
  /** Why it is unusable and how to fix it, when `available` is false. */
  reason?: string
  hint?: string
  /**
   * Usable, but weaker than its kind promises (a microVM under TCG software emulation: slow and
   * not hardware isolation). Auto-detection skips it; an explicit choice runs it with a warning.
   */
  degraded?: string
  /** Backend-specific facts for `doctor --json` (version, runtimes, socket, …). */
  details: Record<string, unknown>
}

export interface SandboxSpec {
  /** The session this sandbox belongs to; carried as a label so orphans can be found. */
  sessionId: string
  /** Host directory mirrored at /workspace. */
  mirrorDir: string
  /** The project the mirror was copied from (a label, for `gc` and `sessions`). */
  projectPath: string
  /** uid:gid the sandbox runs as; defaults to the host user's. */
  user?: { uid: number; gid: number }
  /** Extra environment for every exec. */
  env?: Record<string, string>
  /** Slow preparation steps (an image pull, a VM boot), for the user to watch. */
  onProgress?: (step: string, detail?: string) => void
  /** Egress. Absent or mode `none`: no network at all (the default). */
  network?: SandboxNetwork
  /**
   * `[workspace] max_file_mb` in bytes (default 100 MiB): a backend that copies files out of the
   * sandbox (a microVM) copies files up to this size and stands in for larger ones, so the
   * history records the same files on every backend.
   */
  maxFileBytes?: number
}

/** The default of {@link SandboxSpec.maxFileBytes}, `[workspace] max_file_mb`'s. */
export const DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024

export interface SandboxNetwork {
  policy: NetworkPolicy
  /**
   * Host path of a JSON file holding the current policy ({mode, allow, deny}); the proxy re-reads
   * it when it changes, so a host can be allowed while the session runs. The caller writes it.
   */
  policyFile: string
  /** Every connection the proxy allowed or denied. */
  onEvent?: (event: ProxyEvent) => void
}

export interface ExecRequest {
  /** argv (run directly) or a shell string (run with `/bin/sh -c`). */
  command: string[] | string
  /** Relative to /workspace, or absolute inside it. Default: /workspace. */
  cwd?: string
  env?: Record<string, string>
  /**
   * The process's stdin: bytes written and then closed, or a stream forwarded as it arrives,
   * with backpressure (the next chunk is taken only once the sandbox can accept it), whose end
   * closes the command's stdin. Without it stdin is empty. A stream is read no further once the
   * command has ended.
   */
  stdin?: string | Uint8Array | AsyncIterable<Uint8Array>
  /** Kill the whole process group after this many milliseconds. */
  timeoutMs?: number
  /** Bytes of stdout and of stderr kept in the result; the rest is counted, not kept. */
  maxOutputBytes?: number
}

export interface ExecIO {
  onStdout?: (chunk: Uint8Array) => void
  onStderr?: (chunk: Uint8Array) => void
  /** Aborting kills the process group; the result then has `aborted: true`. */
  signal?: AbortSignal
  /**
   * Backpressure from whoever takes the output: asked after each chunk; a promise means "full",
   * and no more output is read from the sandbox until it settles, so the command's pipes fill
   * and it waits — as a slow reader of `docker exec` makes the command wait. Nothing is dropped.
   */
  waitForReader?: () => Promise<void> | undefined
}

export interface ExecResult {
  /** null when the process was killed before it reported a status. */
  exitCode: number | null
  stdout: string
  stderr: string
  durationMs: number
  timedOut: boolean
  aborted: boolean
  /** Bytes produced beyond `maxOutputBytes` (stdout + stderr), dropped from the result. */
  truncatedBytes: number
}

export type FileKind = 'file' | 'dir' | 'symlink' | 'other'

export interface FileStat {
  path: string
  kind: FileKind
  size: number
  /** Permission bits, e.g. 0o644. */
  mode: number
  mtimeMs: number
}

export interface DirEntry {
  name: string
  kind: FileKind
  size: number
  mode: number
}

export interface ResourceSample {
  at: number
  cpuPercent: number
  memoryBytes: number
  memoryLimitBytes: number
  pids: number
  blockReadBytes: number
  blockWriteBytes: number
  netRxBytes: number
  netTxBytes: number
}

export interface SandboxInfo {
  id: string
  kind: BackendKind
  sessionId: string
  ownerPid: number
  /** Host name of the owning process; its pid means nothing on another host. */
  ownerHost: string
  createdAt: number
  projectPath: string
  state: string
}

/**
 * How much a sandbox may store and how that is enforced (docs/sandboxing.md#disk-limits): for
 * `doctor`, and to say what filled up when something inside runs out of space.
 */
export interface DiskLimits {
  /** The config key that sets the size, e.g. "[docker] disk_mb". */
  key: string
  mib: number
  /** How /workspace is bounded; `enforced: false` with `how` saying why it is not. */
  workspace: { enforced: boolean; how: string }
  /** How everything else the sandbox can write (its root file system, /tmp) is bounded. */
  root: { enforced: boolean; how: string }
}

export interface Sandbox {
  readonly id: string
  readonly kind: BackendKind
  /** Set when this sandbox isolates less than its kind promises (a microVM under TCG). */
  readonly warning?: string
  /** What this sandbox may store, and whether each limit holds at the write. */
  readonly disk?: DiskLimits
  /** Runs a command inside the sandbox. Never throws on a non-zero exit. */
  exec(req: ExecRequest, io?: ExecIO): Promise<ExecResult>
  /** Reads a file inside /workspace; rejects PATH_REJECTED for paths that lead out. */
  readFile(path: string, options?: { maxBytes?: number; signal?: AbortSignal }): Promise<Uint8Array>
  /** Writes a file inside /workspace atomically, creating parent directories. */
  writeFile(
    path: string,
    data: string | Uint8Array,
    options?: { mode?: number; signal?: AbortSignal },
  ): Promise<void>
  /** lstat of a path inside /workspace; NOT_FOUND when it does not exist. */
  stat(path: string, options?: { signal?: AbortSignal }): Promise<FileStat>
  /** Entries of a directory inside /workspace (not recursive, symlinks not followed). */
  list(path: string, options?: { signal?: AbortSignal }): Promise<DirEntry[]>
  /** Resource samples until the signal fires or the sandbox goes away. */
  stats(signal: AbortSignal): AsyncIterable<ResourceSample>
  /** microVM only: pull changed files into the host mirror. */
  syncOut?(): Promise<string[]>
  /**
   * microVM only: what the pulls since the last call left in the guest (special files, names
   * that are not UTF-8, files over the size cap), to report as not recorded. Clears the list.
   */
  takeSkipped?(): { path: string; reason: string }[]
  /**
   * microVM only: push mirror paths the host changed (a revert while the sandbox runs) into the
   * sandbox. Containers see the mirror directly and need nothing.
   */
  syncIn?(paths: string[]): Promise<void>
  /**
   * Runs host work on the mirror (a commit's scan, a revert) while nothing the sandbox does can
   * change the mirror, and resolves with the work's result. A container is frozen (the cgroup
   * freezer: its processes stop where they are and go on afterwards, so a dev server survives)
   * and thawed when the work settles, whatever happened; a microVM's mirror is written only by
   * the host, so its pulls wait instead. Holds may overlap. The work must not use the sandbox:
   * calls that need it wait until it is thawed.
   */
  whileFrozen<T>(work: () => Promise<T>): Promise<T>
  /** Stops and removes the sandbox. Idempotent; never touches the mirror. */
  dispose(): Promise<void>
}

/** The image (or guest image) a backend creates sandboxes from, for `doctor`. */
export interface ImageInfo {
  image: string
  present: boolean
  id?: string
  sizeBytes?: number
  created?: string
  labels?: Record<string, string>
  /** How to get it when it is missing. */
  hint?: string
}

export interface SandboxBackend {
  readonly kind: BackendKind
  probe(signal?: AbortSignal): Promise<ProbeResult>
  create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox>
  /** Sandboxes carrying Safe Coder's labels, including other processes'. */
  list(signal?: AbortSignal): Promise<SandboxInfo[]>
  /** Removes one sandbox found by `list` (for `gc`). */
  remove(id: string, signal?: AbortSignal): Promise<void>
  /** Whether the image sandboxes are created from is present. */
  imageStatus(signal?: AbortSignal): Promise<ImageInfo>
  /** What its sandboxes may store and how that is enforced here (for `doctor`). */
  diskLimits?(signal?: AbortSignal): Promise<DiskLimits>
  /**
   * A fixed-size disk to keep a new session's mirror on, when this backend's sandboxes write the
   * mirror directly and this process can make one (Docker, as root); undefined otherwise.
   */
  workspaceDisk?(): Promise<{ sizeMib: number; key: string } | undefined>
  /**
   * Which engine this backend's sandboxes run on (`unix:///run/podman/podman.sock`), recorded
   * with each session so it always runs there; absent for backends with no choice of engine.
   */
  engine?(signal?: AbortSignal): Promise<string | undefined>
}

/** Where a session runs, as recorded at its creation. */
export interface Placement {
  backend: BackendKind
  /** The engine endpoint of a Docker-API backend; absent on microVMs and older sessions. */
  engine?: string | undefined
}
