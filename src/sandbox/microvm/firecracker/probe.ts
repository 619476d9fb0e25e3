import { execFile } from 'node:child_process'
import { access, constants, stat } from 'node:fs/promises'
import path from 'node:path'

/** What `doctor` needs to know about Firecracker on this host. */
export interface FirecrackerProbe {
  /** Absolute path of the binary, when found. */
  binary?: string
  /** Version from `firecracker --version` ("1.10.1"), when it ran and said one. */
  version?: string
  /** The first line `--version` printed, or why it could not run. */
  versionOutput?: string
  /** Firecracker releases before 1.0 take other request fields (`ht_enabled`, `vsock_id`). */
  supported: boolean
  kvm: 'usable' | 'missing' | 'no-access'
  /** All of it holds: binary runs, version supported, /dev/kvm readable and writable. */
  ok: boolean
  /** Why not, when `ok` is false. */
  reason?: string
  hint?: string
}

export interface FirecrackerProbeOptions {
  binary: string
  env?: NodeJS.ProcessEnv
  /** Where KVM lives (tests point this elsewhere). Default /dev/kvm. */
  kvmDevice?: string
  timeoutMs?: number
  signal?: AbortSignal
}

/** Finds the binary, runs `--version`, and checks /dev/kvm access (Firecracker is KVM-only). */
export async function probeFirecracker(
  options: FirecrackerProbeOptions,
): Promise<FirecrackerProbe> {
  const env = options.env ?? process.env
  const binary = await findExecutable(options.binary, env)
  const kvm = await kvmAccess(options.kvmDevice ?? '/dev/kvm')
  const result: FirecrackerProbe = { supported: false, kvm, ok: false }
  if (binary === undefined) {
    result.reason = `the Firecracker binary "${options.binary}" was not found${options.binary.includes('/') ? '' : ' on PATH'}`
    result.hint =
      'Install a Firecracker release (github.com/firecracker-microvm/firecracker/releases) and put it on PATH, or set [vm] firecracker_bin.'
    return result
  }
  result.binary = binary
  const output = await runVersion(binary, env, options.timeoutMs ?? 5000, options.signal)
  result.versionOutput = output.firstLine
  const version = parseFirecrackerVersion(output.text)
  if (version !== undefined) result.version = version
  result.supported = version !== undefined && Number(version.split('.')[0]) >= 1
  if (version === undefined) {
    result.reason = `${binary} --version did not report a Firecracker version (${output.firstLine})`
    result.hint = 'Check that [vm] firecracker_bin points at the firecracker binary itself.'
  } else if (!result.supported) {
    result.reason = `Firecracker ${version} is older than 1.0, whose API Safe Coder speaks`
    result.hint = 'Install Firecracker 1.0 or newer.'
  } else if (kvm !== 'usable') {
    result.reason =
      kvm === 'missing'
        ? '/dev/kvm does not exist (no hardware virtualisation here)'
        : '/dev/kvm is not readable and writable by this user'
    result.hint =
      kvm === 'missing'
        ? 'Firecracker needs KVM: enable virtualisation (or nested virtualisation) on this host, or use the Docker backend.'
        : 'Add yourself to the kvm group (sudo usermod -aG kvm $USER, then log in again) or grant access with setfacl.'
  } else {
    result.ok = true
  }
  return result
}

/** "Firecracker v1.10.1" (first line of `--version`) → "1.10.1". */
export function parseFirecrackerVersion(text: string): string | undefined {
  return /\bFirecracker v?(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)/.exec(text)?.[1]
}

async function kvmAccess(device: string): Promise<FirecrackerProbe['kvm']> {
  const exists = await stat(device).then(
    () => true,
    () => false,
  )
  if (!exists) return 'missing'
  return access(device, constants.R_OK | constants.W_OK).then(
    () => 'usable' as const,
    () => 'no-access' as const,
  )
}

function runVersion(
  binary: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ text: string; firstLine: string }> {
  return new Promise((resolve) => {
    execFile(
      binary,
      ['--version'],
      { env, timeout: timeoutMs, maxBuffer: 64 * 1024, signal, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const text = `${stdout}\n${stderr}`
        const firstLine =
          text
            .split('\n')
            .map((line) => line.trim())
            .find((line) => line !== '') ??
          (error === null ? '(no output)' : `could not run: ${error.message}`)
        resolve({ text, firstLine })
      },
    )
  })
}

/** A name looked up on PATH, or a path; the absolute path of an executable file. */
export async function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const candidates = name.includes('/')
    ? [path.resolve(name)]
    : (env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => path.resolve(dir, name))
  for (const candidate of candidates) {
    const isFile = await stat(candidate).then(
      (info) => info.isFile(),
      () => false,
    )
    if (!isFile) continue
    const ok = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    )
    if (ok) return candidate
  }
  return undefined
}
