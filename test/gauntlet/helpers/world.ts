import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { execa, type Options, type ResultPromise } from 'execa'
import { binPath, requireBuiltCli } from '../../helpers/built-cli.js'
import { removeTree } from '../../helpers/sandbox.js'
import { backendProbe, processesWithEnv, type BackendProbe } from './backend.js'
import { digest, treeChanges, treeHash } from './hash.js'
import { GAUNTLET_IMAGE, type GauntletBackend } from './options.js'

export const SESSION_ID = /s-[a-z0-9]+-[0-9a-f]{8}/
/** A Node stack frame ("    at fn (file:1:2)"): user-facing errors never show one. */
export const STACK_FRAME = /^\s+at .+[:(]/m

export interface CliResult {
  exitCode: number
  stdout: string
  stderr: string
  /** The command line, for failure messages. */
  command: string
  timedOut: boolean
  signal?: string
}

export interface CliOptions {
  cwd?: string
  env?: Record<string, string>
  input?: string
  /** ms; the CLI is killed (SIGKILL) after it. Default 5 minutes. */
  timeout?: number
  /** Run as this uid/gid (the CLI as an unprivileged user). */
  uid?: number
  gid?: number
  /** Wrap the CLI in this command (setpriv …). */
  wrapper?: string[]
}

export interface WorldOptions {
  /** Initialise the project as a git repository with one commit. */
  git?: boolean
  /** Extra project files (path → content). */
  files?: Record<string, string>
  /** Extra environment for every CLI run. */
  env?: Record<string, string>
  /** Lines for the user config file ($XDG_CONFIG_HOME/safe-coder/config.toml). */
  userConfig?: string
}

export interface SessionRow {
  id: string
  status: string
  commits: number
  head?: string
  baseCommit?: string
  changedFiles?: number
  unsynced: boolean
  projectPath: string
  ownerAlive?: boolean
  backend: string
}

export interface LogEntry {
  oid: string
  subject: string
  trailers: Record<string, string>
  files: { path: string; status: string; tooLarge?: boolean; newMode?: number }[]
}

interface Baseline {
  canary: Record<string, string>
  home: Record<string, string>
  project: Record<string, string>
}

/**
 * One test's private host: an isolated HOME with dotfiles, a canary tree outside the project (the
 * agent's target; hooks would drop their markers in it), and the project. Every case checks the
 * host against the baseline afterwards.
 */
export class World {
  readonly probe: BackendProbe
  readonly home: string
  readonly canary: string
  readonly project: string
  readonly stateHome: string
  /** A random token only the canary holds: grep for it anywhere the sandbox can see. */
  readonly token = `CANARY-${randomBytes(12).toString('hex')}`
  env: Record<string, string>
  /** A bash expression that yields the token without the command line containing it. */
  get tokenExpr(): string {
    return `"$(echo ${Buffer.from(this.token).toString('base64')} | base64 -d)"`
  }
  private baseline: Baseline | undefined
  private readonly children = new Set<ResultPromise>()
  private readonly disposers: (() => Promise<void>)[] = []

  private constructor(
    readonly backend: GauntletBackend,
    readonly root: string,
    env: Record<string, string>,
  ) {
    this.probe = backendProbe(backend)
    this.home = path.join(root, 'home')
    this.canary = path.join(root, 'canary')
    this.project = path.join(root, 'project')
    this.stateHome = path.join(this.home, '.local/state')
    this.env = env
  }

  static async create(backend: GauntletBackend, options: WorldOptions = {}): Promise<World> {
    requireBuiltCli()
    const root = await mkdtemp(path.join(os.tmpdir(), 'sc-gauntlet-'))
    await chmod(root, 0o755)
    const home = path.join(root, 'home')
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_STATE_HOME: path.join(home, '.local/state'),
      // The real cache: built guest images (the microVM backends) live there; it holds no
      // dotfiles and is not part of the host checks.
      XDG_CACHE_HOME: process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'),
      LANG: 'C.UTF-8',
      SAFE_CODER_IMAGE: GAUNTLET_IMAGE,
      SAFE_CODER_BACKEND: backend,
      ...(process.env.DOCKER_HOST === undefined ? {} : { DOCKER_HOST: process.env.DOCKER_HOST }),
      ...options.env,
    }
    const world = new World(backend, root, env)
    await world.plant(options)
    world.baseline = await world.measure()
    return world
  }

  private async plant(options: WorldOptions): Promise<void> {
    const { home, canary, project, token } = this
    // Dotfiles an escaped agent would go for.
    await mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o700 })
    await mkdir(path.join(home, '.config/safe-coder'), { recursive: true })
    await mkdir(path.join(home, '.docker'), { recursive: true })
    await writeFile(path.join(home, '.bashrc'), `# canary bashrc ${token}\nexport PS1='$ '\n`)
    await writeFile(path.join(home, '.profile'), `# canary profile ${token}\n`)
    await writeFile(
      path.join(home, '.gitconfig'),
      '[user]\n\tname = Canary\n\temail = c@example.invalid\n',
    )
    await writeFile(path.join(home, '.ssh/id_ed25519'), `-----BEGIN FAKE KEY-----\n${token}\n`, {
      mode: 0o600,
    })
    await writeFile(path.join(home, '.ssh/authorized_keys'), `ssh-ed25519 AAAA${token} canary\n`)
    await writeFile(path.join(home, '.docker/config.json'), `{"auths":{"x":{"auth":"${token}"}}}\n`)
    if (options.userConfig !== undefined)
      await writeFile(path.join(home, '.config/safe-coder/config.toml'), options.userConfig)
    // The canary: outside the project, holding the token; markers of executed hooks land here.
    await mkdir(path.join(canary, 'nested'), { recursive: true })
    // Where a hook, filter or fsmonitor planted by the agent would leave its marker if it ran.
    await mkdir(path.join(canary, 'markers'), { recursive: true })
    await writeFile(path.join(canary, 'secret.txt'), `host secret ${token}\n`)
    await writeFile(path.join(canary, 'nested/deep.txt'), `deep ${token}\n`)
    await symlink('secret.txt', path.join(canary, 'link'))
    // The project.
    await mkdir(path.join(project, 'src'), { recursive: true })
    await writeFile(path.join(project, 'README.md'), '# Gauntlet project\n\nA small project.\n')
    await writeFile(path.join(project, 'hello.txt'), 'hello from the project\n')
    await writeFile(path.join(project, 'src/main.sh'), '#!/bin/sh\necho main\n', { mode: 0o755 })
    for (const [rel, content] of Object.entries(options.files ?? {})) {
      await mkdir(path.dirname(path.join(project, rel)), { recursive: true })
      await writeFile(path.join(project, rel), content)
    }
    if (options.git === true) {
      const git = (args: string[]) =>
        execa('git', ['-c', 'core.hooksPath=/dev/null', ...args], {
          cwd: project,
          env: this.env,
          extendEnv: false,
        })
      await git(['init', '-q', '-b', 'main'])
      await git(['add', '-A'])
      await git(['commit', '-q', '-m', 'initial'])
    }
  }

  /** Hashes of what must not change: the canary, the dotfiles, the project. */
  async measure(): Promise<Baseline> {
    // Every dotfile, except Safe Coder's own state and cache (its config file is kept: it is read).
    const home = await treeHash(
      this.home,
      '',
      (p) =>
        !p.startsWith('.') ||
        p === '.local' ||
        p === '.cache' ||
        (p.startsWith('.config/') && !p.startsWith('.config/safe-coder')),
    )
    return {
      canary: await treeHash(this.canary),
      home,
      project: await treeHash(this.project),
    }
  }

  /** Re-baselines the project (after a sync the case expects, or after the case changed it). */
  async rebaseProject(): Promise<void> {
    if (this.baseline !== undefined) this.baseline.project = await treeHash(this.project)
  }

  /** Re-baselines everything (after a case planted more host state before acting). */
  async rebase(): Promise<void> {
    this.baseline = await this.measure()
  }

  /** The project's tree as the baseline saw it. */
  get projectBaseline(): Record<string, string> {
    return this.baseline?.project ?? {}
  }

  private fullEnv(extra: Record<string, string> | undefined): Record<string, string> {
    return { ...this.env, ...extra }
  }

  /** Starts the built CLI; the caller awaits or kills it. */
  start(args: string[], options: CliOptions = {}): ResultPromise {
    const [file, ...pre] = options.wrapper ?? [process.execPath]
    const argv =
      options.wrapper === undefined
        ? [binPath, ...args]
        : [...pre, process.execPath, binPath, ...args]
    const child = execa(file ?? process.execPath, argv, {
      cwd: options.cwd ?? this.project,
      env: this.fullEnv(options.env),
      extendEnv: false,
      reject: false,
      timeout: options.timeout ?? 300_000,
      killSignal: 'SIGKILL',
      maxBuffer: 512 * 1024 * 1024,
      ...(options.input === undefined ? { stdin: 'ignore' } : { input: options.input }),
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    } as Options)
    this.children.add(child)
    void child.finally(() => this.children.delete(child)).catch(() => undefined)
    return child
  }

  /** Runs the built CLI to the end. */
  async cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
    const result = await this.start(args, options)
    return {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      command: `safe-coder ${args.map((a) => (/^[\w./:=,@-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`,
      timedOut: result.timedOut,
      ...(result.signal === undefined ? {} : { signal: result.signal }),
    }
  }

  /** `safe-coder exec -- sh -c SCRIPT` in a new session (or `session`); returns the id too. */
  async exec(
    script: string,
    options: CliOptions & { session?: string; timeoutS?: number } = {},
  ): Promise<CliResult & { id: string }> {
    const args = ['exec']
    if (options.session !== undefined) args.push('--session', options.session)
    if (options.timeoutS !== undefined) args.push('--timeout', String(options.timeoutS))
    args.push('--', 'bash', '-c', script)
    const result = await this.cli(args, options)
    const id = options.session ?? SESSION_ID.exec(result.stderr)?.[0] ?? ''
    return { ...result, id }
  }

  /** The folder planted hooks write their markers to (inside the canary: any marker fails the case). */
  get markers(): string {
    return path.join(this.canary, 'markers')
  }

  get sessionsDir(): string {
    return path.join(this.stateHome, 'safe-coder/sessions')
  }

  workDir(id: string): string {
    return path.join(this.sessionsDir, id, 'work')
  }

  /** Session ids present on disk. */
  async sessionIds(): Promise<string[]> {
    try {
      return (await readdir(this.sessionsDir)).filter((n) => SESSION_ID.test(n)).sort()
    } catch {
      return []
    }
  }

  async sessions(): Promise<{
    sessions: SessionRow[]
    damaged: { id: string; message: string }[]
  }> {
    const result = await this.cli(['sessions', '--json'])
    if (result.exitCode !== 0) throw new Error(`sessions --json failed: ${show(result)}`)
    return JSON.parse(result.stdout) as {
      sessions: SessionRow[]
      damaged: { id: string; message: string }[]
    }
  }

  async log(id: string): Promise<LogEntry[]> {
    const result = await this.cli(['log', id, '--json'])
    if (result.exitCode !== 0) throw new Error(`log ${id} --json failed: ${show(result)}`)
    return JSON.parse(result.stdout) as LogEntry[]
  }

  /** Runs `safe-coder gc` and says what it removed. */
  async gc(): Promise<CliResult> {
    return this.cli(['gc'])
  }

  /**
   * The host after a case: canary, dotfiles and project (unless the case synced, then
   * re-baselined) unchanged; nothing of any session still running; every session's history
   * readable and complete (as many commits as `sessions` reports, `git fsck --strict` clean).
   */
  async verify(
    options: { allowDamaged?: boolean; skipHistory?: string[] } = {},
  ): Promise<string[]> {
    const problems: string[] = []
    const now = await this.measure()
    const base = this.baseline
    if (base === undefined) throw new Error('world has no baseline')
    const compare = (what: string, a: Record<string, string>, b: Record<string, string>) => {
      const changes = treeChanges(a, b)
      if (changes.length > 0)
        problems.push(
          `${what} changed (${digest(a)} → ${digest(b)}): ${changes.slice(0, 10).join(', ')}`,
        )
    }
    compare('the canary tree outside the project', base.canary, now.canary)
    compare('the HOME dotfiles', base.home, now.home)
    compare('the project', base.project, now.project)

    // Nothing outlives its session: no CLI process of this world, no sandbox of any session.
    for (const child of this.children)
      if (child.exitCode === null) problems.push('a CLI process of this case is still running')
    const procs = await processesWithEnv(`XDG_STATE_HOME=${this.stateHome}`)
    for (const p of procs) problems.push(`process ${p.pid} still running: ${p.cmd.slice(0, 160)}`)
    const ids = await this.sessionIds()
    for (const id of ids) {
      for (const left of await this.probe.leftovers(id, this.env))
        problems.push(`${id}: left behind: ${left}`)
    }

    // History complete and consistent with what `sessions` says.
    if (ids.length > 0) {
      const listed = await this.sessions().catch((error: unknown) => {
        problems.push(String(error))
        return undefined
      })
      if (listed !== undefined) {
        if (listed.damaged.length > 0 && options.allowDamaged !== true)
          problems.push(`damaged sessions: ${JSON.stringify(listed.damaged)}`)
        for (const row of listed.sessions) {
          if (options.skipHistory?.includes(row.id) === true) continue
          if (row.status === 'active')
            problems.push(`${row.id}: still "active" after its process ended`)
          problems.push(...(await this.historyProblems(row)))
        }
      }
    }
    return problems
  }

  private async historyProblems(row: SessionRow): Promise<string[]> {
    const problems: string[] = []
    // The CLI must read the history (its newest commits); the whole list comes from git itself,
    // so a commit of a million files does not need a gigabyte of JSON here.
    let newest: LogEntry[]
    try {
      const result = await this.cli(['log', row.id, '-n', '2', '--json'])
      if (result.exitCode !== 0)
        throw new Error(`log ${row.id} -n 2 --json failed: ${show(result)}`)
      newest = JSON.parse(result.stdout) as LogEntry[]
    } catch (error) {
      return [`${row.id}: ${String(error)}`]
    }
    const gitdir0 = path.join(this.sessionsDir, row.id, 'audit.git')
    const gitEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      GIT_CONFIG_NOSYSTEM: '1',
    }
    const git = (args: string[]) =>
      execa('git', ['-c', 'core.hooksPath=/dev/null', '--git-dir', gitdir0, ...args], {
        reject: false,
        env: gitEnv,
        extendEnv: false,
      })
    const count = Number((await git(['rev-list', '--count', 'HEAD'])).stdout.trim())
    const subjects = (await git(['log', '--format=%s', 'HEAD'])).stdout.split('\n')
    if (count !== row.commits + 1)
      problems.push(
        `${row.id}: \`sessions\` reports ${row.commits} commits, the history holds ${count - 1} after the snapshot`,
      )
    if (!/^snapshot: /.test(subjects.at(-1) ?? ''))
      problems.push(
        `${row.id}: the oldest commit is not the snapshot: ${subjects.at(-1) ?? '(none)'}`,
      )
    if (row.head !== undefined && newest[0]?.oid !== row.head)
      problems.push(
        `${row.id}: log's newest commit ${newest[0]?.oid ?? '?'} is not HEAD ${row.head}`,
      )
    if (
      newest[0]?.subject !== undefined &&
      newest[0].subject !== subjects[0]?.slice(0, newest[0].subject.length)
    )
      problems.push(
        `${row.id}: log's newest subject ${JSON.stringify(newest[0].subject)} is not git's ${JSON.stringify(subjects[0])}`,
      )
    const gitdir = path.join(this.sessionsDir, row.id, 'audit.git')
    const fsck = await execa(
      'git',
      ['-c', 'core.hooksPath=/dev/null', '--git-dir', gitdir, 'fsck', '--strict', '--no-progress'],
      {
        reject: false,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: this.home,
          GIT_CONFIG_NOSYSTEM: '1',
        },
        extendEnv: false,
      },
    )
    if (fsck.exitCode !== 0)
      problems.push(`${row.id}: git fsck --strict: ${fsck.stderr || fsck.stdout}`)
    problems.push(...(await this.leakProblems(row.id)))
    return problems
  }

  /**
   * The canary's token must appear nowhere in a session's state: not in any object of its
   * history (decompressed), not in its mirror, transcript or events.
   */
  async leakProblems(id: string): Promise<string[]> {
    const dir = path.join(this.sessionsDir, id)
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      GIT_CONFIG_NOSYSTEM: '1',
      TOKEN: this.token,
    }
    const objects = await execa(
      'bash',
      [
        '-c',
        'git -c core.hooksPath=/dev/null --git-dir "$1/audit.git" cat-file --batch-all-objects --batch | grep -caF -- "$TOKEN"',
        '_',
        dir,
      ],
      { reject: false, env, extendEnv: false },
    )
    // Regular files under 64 MB (a 10 GB sparse file holds nothing to find).
    const files = await execa(
      'bash',
      [
        '-c',
        'find "$1" -path "$1/audit.git" -prune -o -type f -size -64M -print0 | xargs -0 -r grep -laF -- "$TOKEN"',
        '_',
        dir,
      ],
      { reject: false, env, extendEnv: false },
    )
    const problems: string[] = []
    if (objects.stdout.trim() !== '0' && objects.stdout.trim() !== '')
      problems.push(
        `${id}: the canary token is in ${objects.stdout.trim()} object(s) of the history`,
      )
    if (files.stdout.trim() !== '')
      problems.push(`${id}: the canary token is in ${files.stdout.trim().split('\n').join(', ')}`)
    return problems
  }

  /** Runs `fn` when the world is disposed, after the sandboxes are reaped, before deletion. */
  onDispose(fn: () => Promise<void>): void {
    this.disposers.push(fn)
  }

  /** Kills whatever CLI process is still running, reaps sandboxes, and deletes the world. */
  async dispose(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL')
    await Promise.allSettled([...this.children])
    const ids = await this.sessionIds()
    const left = await Promise.all(
      ids.map((id) => this.probe.leftovers(id, this.env).catch(() => [])),
    )
    if (left.some((l) => l.length > 0)) await this.gc().catch(() => undefined)
    for (const id of ids) {
      const left = await this.probe.leftovers(id, this.env).catch(() => [])
      if (left.length > 0 && (this.backend === 'docker' || this.backend === 'podman')) {
        await execa(
          'docker',
          [
            'rm',
            '-f',
            ...left.filter((l) => l.startsWith('container ')).map((l) => l.split(' ')[1] ?? ''),
          ],
          {
            reject: false,
          },
        )
      }
    }
    for (const fn of this.disposers.reverse()) await fn().catch(() => undefined)
    if (process.env.SAFE_CODER_GAUNTLET_KEEP !== '1')
      await removeTree(this.root).catch(() => undefined)
  }
}

/** A CLI result in one paragraph, for assertion messages. */
export function show(result: CliResult): string {
  const cut = (s: string) => (s.length > 1500 ? `${s.slice(0, 1500)}… (${s.length} chars)` : s)
  return `${result.command} → exit ${result.exitCode}${result.timedOut ? ' (timed out)' : ''}\n--- stdout\n${cut(result.stdout)}\n--- stderr\n${cut(result.stderr)}`
}

/** Reads a JSON file written by the CLI (session.json, …). */
export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T
}
