import { constants } from 'node:fs'
import { access, readFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { SafeCoderError } from '../../shared/errors.js'

export interface DebootstrapOptions {
  debootstrap: string
  target: string
  suite: string
  mirror: string
  packages: string[]
  signal?: AbortSignal
  /** Each `I:`/`W:`/`E:` line debootstrap prints, as it prints it. */
  onLine?: (line: string) => void
}

// debootstrap lives in /usr/sbin, which is not on every user's PATH.
const systemBinDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin']

// Finds a tool on PATH or in the sbin directories; undefined when it is not installed.
export async function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const dirs = [...(env.PATH ?? '').split(path.delimiter), ...systemBinDirs]
  for (const dir of dirs.filter((d) => d !== '')) {
    const candidate = path.join(dir, name)
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      continue
    }
  }
  return undefined
}

/** The argv for a minimal Debian tree with the configured packages. */
export function debootstrapArgs(options: Omit<DebootstrapOptions, 'debootstrap'>): string[] {
  const include = options.packages.length > 0 ? [`--include=${options.packages.join(',')}`] : []
  return ['--variant=minbase', ...include, options.suite, options.target, options.mirror]
}

/**
 * Runs debootstrap in its own process group so cancelling stops its dpkg and chroot children
 * too, not just the shell script at the top.
 */
export async function runDebootstrap(options: DebootstrapOptions): Promise<void> {
  const { signal } = options
  const recent: string[] = []
  const child = execa(options.debootstrap, debootstrapArgs(options), {
    all: true,
    buffer: false,
    stdin: 'ignore',
    detached: true,
    reject: false,
    env: { PATH: [process.env.PATH ?? '', ...systemBinDirs].join(path.delimiter), LC_ALL: 'C' },
  })
  const killGroup = (): void => {
    signalGroup(child.pid, 'SIGTERM')
    setTimeout(() => {
      signalGroup(child.pid, 'SIGKILL')
    }, 5000).unref()
  }
  signal?.addEventListener('abort', killGroup, { once: true })
  try {
    for await (const line of child.iterable({ from: 'all' })) {
      recent.push(line)
      if (recent.length > 40) recent.shift()
      options.onLine?.(line)
    }
    const result = await child
    if (signal?.aborted === true) {
      throw new SafeCoderError('ABORTED', 'Image build was cancelled during debootstrap.')
    }
    if (result.failed) throw await debootstrapError(options, result.exitCode, recent)
  } finally {
    signal?.removeEventListener('abort', killGroup)
  }
}

function signalGroup(pid: number | undefined, name: NodeJS.Signals): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, name)
  } catch {
    // The group has already exited.
  }
}

// debootstrap prints the cause as an `E:` line, and the details only in its own log file.
async function debootstrapError(
  options: DebootstrapOptions,
  exitCode: number | undefined,
  recent: string[],
): Promise<SafeCoderError> {
  const logFile = path.join(options.target, 'debootstrap', 'debootstrap.log')
  const log = await readFile(logFile, 'utf8').catch(() => '')
  const logTail = log.trimEnd().split('\n').slice(-20)
  const cause = recent.findLast((line) => line.startsWith('E:')) ?? recent.at(-1) ?? 'no output'
  return new SafeCoderError(
    'IMAGE_BUILD_FAILED',
    `debootstrap of ${options.suite} from ${options.mirror} failed (exit ${exitCode ?? 'signal'}): ${cause}`,
    {
      hint: 'Check that the mirror is reachable and that the suite and every [image] package exist.',
      data: { output: recent, logTail },
    },
  )
}
