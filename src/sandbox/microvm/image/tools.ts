import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { SafeCoderError } from '../../../shared/errors.js'

/**
 * Host programs the image build runs, with the Debian package that provides each, so a missing
 * one is reported as "install X" instead of ENOENT.
 */
export const HOST_TOOLS = {
  'mkfs.ext4': 'e2fsprogs',
  debugfs: 'e2fsprogs',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  tar: 'tar',
  xz: 'xz-utils',
  zstd: 'zstd',
  gzip: 'gzip',
  cp: 'coreutils',
  mount: 'mount',
  umount: 'mount',
} as const

export type HostTool = keyof typeof HOST_TOOLS

// sbin directories are often missing from a non-root PATH, but mkfs.ext4 and debugfs live there.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin']

/** Absolute path of an executable on PATH (plus the sbin directories), or undefined. */
export async function findTool(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (name.includes('/')) return (await isExecutable(name)) ? name : undefined
  const dirs = [...(env.PATH ?? '').split(':').filter(Boolean), ...EXTRA_DIRS]
  for (const dir of new Set(dirs)) {
    const candidate = path.join(dir, name)
    if (await isExecutable(candidate)) return candidate
  }
  return undefined
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  )
}

/** The tool's absolute path; IMAGE_BUILD_FAILED naming the package to install when missing. */
export async function requireTool(name: HostTool, why: string): Promise<string> {
  const found = await findTool(name)
  if (found !== undefined) return found
  throw new SafeCoderError('IMAGE_BUILD_FAILED', `${name} is not installed (needed ${why}).`, {
    hint: `Install it: apt-get install ${HOST_TOOLS[name]}`,
    data: { tool: name, package: HOST_TOOLS[name] },
  })
}

/** Runs a host command; a failure becomes IMAGE_BUILD_FAILED with its stderr. */
export async function runTool(
  file: string,
  args: readonly string[],
  options: { what: string; hint?: string; signal?: AbortSignal; cwd?: string } & (
    { input?: Uint8Array } | object
  ),
): Promise<{ stdout: string; stderr: string }> {
  const input = 'input' in options ? options.input : undefined
  const result = await execa(file, args, {
    reject: false,
    cwd: options.cwd,
    cancelSignal: options.signal,
    stripFinalNewline: true,
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  })
  if (options.signal?.aborted === true) {
    throw new SafeCoderError('ABORTED', `${options.what} was cancelled.`, {
      cause: options.signal.reason,
    })
  }
  if (result.exitCode !== 0 || result.failed) {
    const detail = (result.stderr || result.stdout || (result.message ?? ''))
      .trim()
      .split('\n')
      .slice(-6)
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `${options.what} failed: ${detail.join(' / ')}`,
      {
        hint: options.hint ?? `Run it by hand to see why: ${[file, ...args].join(' ')}`,
        data: { command: [file, ...args].join(' '), exitCode: result.exitCode ?? null },
      },
    )
  }
  return { stdout: result.stdout, stderr: result.stderr }
}
