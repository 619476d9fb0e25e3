import { access, constants } from 'node:fs/promises'
import path from 'node:path'
import { VERSION } from '../shared/version.js'
import type { ProbeResult } from './types.js'

export interface MicrovmProbeOptions {
  kind: 'qemu' | 'firecracker'
  binary: string
  env?: NodeJS.ProcessEnv
}

/**
 * What a microVM backend would need on this host (binary, /dev/kvm). The backend itself is not
 * in this version, so it always reports unavailable, but says what it found: `doctor` output
 * stays truthful and auto-detection never picks it.
 */
export async function probeMicrovm(options: MicrovmProbeOptions): Promise<ProbeResult> {
  const binary = await findExecutable(options.binary, options.env ?? process.env)
  const kvm = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  )
  const name = options.kind === 'qemu' ? 'QEMU microvm' : 'Firecracker'
  return {
    kind: options.kind,
    available: false,
    summary: `${name}: unavailable`,
    reason: `the ${name} backend is not part of Safe Coder ${VERSION} yet (binary ${binary ?? `${options.binary} not found`}, /dev/kvm ${kvm ? 'usable' : 'not usable'})`,
    hint: 'Use the Docker backend (--backend docker) until the microVM backend lands.',
    details: { binary: binary ?? null, kvm },
  }
}

async function findExecutable(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const candidates = name.includes('/')
    ? [name]
    : (env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => path.join(dir, name))
  for (const candidate of candidates) {
    const ok = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    )
    if (ok) return candidate
  }
  return undefined
}
