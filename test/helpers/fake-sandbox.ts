import path from 'node:path/posix'
import { SafeCoderError } from '../../src/shared/errors.js'
import { toWorkspacePath } from '../../src/sandbox/workspace-path.js'
import type { ToolContext, ToolLimits } from '../../src/agent/tools/types.js'
import {
  WORKSPACE,
  type DirEntry,
  type ExecIO,
  type ExecRequest,
  type ExecResult,
  type FileStat,
  type ResourceSample,
  type Sandbox,
} from '../../src/sandbox/types.js'

export type FakeNode =
  | { kind: 'file'; data: Uint8Array; mode: number }
  | { kind: 'dir'; mode: number }
  | { kind: 'symlink'; target: string }

/** What a scripted exec answers; missing fields take the values of a quick, clean exit 0. */
export type ExecHandler = (
  argv: string[],
  req: ExecRequest,
  io: ExecIO,
) => Partial<ExecResult> | Promise<Partial<ExecResult>>

/**
 * An in-memory Sandbox for unit tests: files, directories and symlinks in a Map keyed by
 * absolute path, with the Docker sandbox's confinement rules (symlinks followed inside, PATH_
 * REJECTED when they lead out, NOT_FOUND when missing). `exec` runs nothing: each test scripts
 * it with `onExec`, and every request is recorded in `execs`.
 */
export class FakeSandbox implements Sandbox {
  readonly kind = 'docker'
  readonly nodes = new Map<string, FakeNode>([[WORKSPACE, { kind: 'dir', mode: 0o777 }]])
  readonly execs: { argv: string[]; req: ExecRequest }[] = []
  onExec: ExecHandler = (argv) => {
    throw new Error(`FakeSandbox: exec not scripted: ${JSON.stringify(argv)}`)
  }

  constructor(
    files: Record<string, string> = {},
    readonly id = 'fake-sandbox',
  ) {
    for (const [name, content] of Object.entries(files)) this.addFile(name, content)
  }

  addFile(name: string, content: string | Uint8Array, mode = 0o644): void {
    const abs = toWorkspacePath(name)
    this.addDir(path.dirname(abs))
    const data = typeof content === 'string' ? Buffer.from(content) : content
    this.nodes.set(abs, { kind: 'file', data, mode })
  }

  addDir(name: string): void {
    const abs = toWorkspacePath(name)
    for (let dir = abs; dir !== WORKSPACE; dir = path.dirname(dir)) {
      if (!this.nodes.has(dir)) this.nodes.set(dir, { kind: 'dir', mode: 0o755 })
    }
  }

  addSymlink(name: string, target: string): void {
    const abs = toWorkspacePath(name)
    this.addDir(path.dirname(abs))
    this.nodes.set(abs, { kind: 'symlink', target })
  }

  /** The text of a file, or undefined when there is no file at `name`. */
  text(name: string): string | undefined {
    const node = this.nodes.get(toWorkspacePath(name))
    return node?.kind === 'file' ? Buffer.from(node.data).toString('utf8') : undefined
  }

  async exec(req: ExecRequest, io: ExecIO = {}): Promise<ExecResult> {
    const argv = typeof req.command === 'string' ? ['/bin/sh', '-c', req.command] : req.command
    this.execs.push({ argv, req })
    const answer = await this.onExec(argv, req, io)
    return {
      exitCode: 0,
      stdout: '',
      stderr: '',
      durationMs: 5,
      timedOut: false,
      aborted: false,
      truncatedBytes: 0,
      ...answer,
    }
  }

  readFile(name: string, options: { maxBytes?: number } = {}): Promise<Uint8Array> {
    const real = this.resolve(name, 'read', true)
    const node = this.nodes.get(real)
    if (node === undefined) throw missing('read', name)
    if (node.kind !== 'file') throw wrongKind('read', name, 'not a regular file')
    return Promise.resolve(node.data.subarray(0, options.maxBytes ?? node.data.length))
  }

  writeFile(
    name: string,
    data: string | Uint8Array,
    options: { mode?: number } = {},
  ): Promise<void> {
    const abs = toWorkspacePath(name)
    if (abs === WORKSPACE) throw wrongKind('write', name, 'not a regular file')
    const dir = this.resolve(path.dirname(abs), 'write', true)
    const parent = this.nodes.get(dir)
    if (parent !== undefined && parent.kind !== 'dir') {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Cannot write ${JSON.stringify(name)}: a parent is not a directory.`,
      )
    }
    const dest = `${dir}/${path.basename(abs)}`
    const existing = this.nodes.get(dest)
    if (existing?.kind === 'dir') throw wrongKind('write', name, 'not a regular file')
    const mode = options.mode ?? (existing?.kind === 'file' ? existing.mode : 0o644)
    this.addDir(dir)
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    this.nodes.set(dest, { kind: 'file', data: bytes, mode })
    return Promise.resolve()
  }

  stat(name: string): Promise<FileStat> {
    const abs = toWorkspacePath(name)
    const real = abs === WORKSPACE ? abs : this.resolve(abs, 'stat', false)
    const node = this.nodes.get(real)
    if (node === undefined) throw missing('stat', name)
    const size =
      node.kind === 'file' ? node.data.length : node.kind === 'symlink' ? node.target.length : 4096
    const mode = node.kind === 'symlink' ? 0o777 : node.mode
    return Promise.resolve({ path: abs, kind: node.kind, size, mode, mtimeMs: 0 })
  }

  list(name: string): Promise<DirEntry[]> {
    const real = this.resolve(name, 'list', true)
    const node = this.nodes.get(real)
    if (node === undefined) throw missing('list', name)
    if (node.kind !== 'dir') throw wrongKind('list', name, 'not a directory')
    const entries: DirEntry[] = []
    for (const [key, child] of this.nodes) {
      if (path.dirname(key) !== real || key === real) continue
      const size = child.kind === 'file' ? child.data.length : 0
      const mode = child.kind === 'symlink' ? 0o777 : child.mode
      entries.push({ name: path.basename(key), kind: child.kind, size, mode })
    }
    return Promise.resolve(entries)
  }

  // eslint-disable-next-line require-yield
  async *stats(): AsyncIterable<ResourceSample> {
    await Promise.resolve()
  }

  /** Host work it was asked to hold still for; it runs no processes, so nothing is frozen. */
  frozenHolds = 0

  whileFrozen<T>(work: () => Promise<T>): Promise<T> {
    this.frozenHolds++
    return work()
  }

  dispose(): Promise<void> {
    return Promise.resolve()
  }

  /** The real path of `name`, symlinks followed (the last one only when `followLast`). */
  private resolve(name: string, op: string, followLast: boolean, depth = 0): string {
    const abs = toWorkspacePath(name)
    const parts = abs
      .slice(WORKSPACE.length)
      .split('/')
      .filter((p) => p !== '')
    let current = WORKSPACE
    for (const [i, part] of parts.entries()) {
      const next = `${current}/${part}`
      const node = this.nodes.get(next)
      if (node?.kind === 'symlink' && (i < parts.length - 1 || followLast)) {
        const target = path.join(path.resolve(current, node.target), ...parts.slice(i + 1))
        if (depth > 40 || (target !== WORKSPACE && !target.startsWith(`${WORKSPACE}/`))) {
          throw new SafeCoderError(
            'PATH_REJECTED',
            `Cannot ${op} ${JSON.stringify(name)} in the sandbox: it resolves to a place outside /workspace.`,
            { hint: 'A symlink on the path leads out of the workspace; use a path inside it.' },
          )
        }
        return this.resolve(target, op, followLast, depth + 1)
      }
      current = next
    }
    return current
  }
}

function missing(op: string, name: string): SafeCoderError {
  return new SafeCoderError(
    'NOT_FOUND',
    `Cannot ${op} ${JSON.stringify(name)} in the sandbox: no such file or directory.`,
  )
}

function wrongKind(op: string, name: string, why: string): SafeCoderError {
  return new SafeCoderError(
    'PATH_REJECTED',
    `Cannot ${op} ${JSON.stringify(name)} in the sandbox: ${why}.`,
  )
}

/** A ToolContext over `sandbox` with generous limits, overridable per test. */
export function toolContext(sandbox: Sandbox, limits: Partial<ToolLimits> = {}): ToolContext {
  return {
    sandbox,
    signal: new AbortController().signal,
    limits: { maxOutputChars: 30_000, bashTimeoutMs: 120_000, ...limits },
  }
}
