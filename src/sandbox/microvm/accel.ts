import { access, constants, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Accel, GuestImage, HypervisorKind } from './types.js'

export type AccelChoice = 'auto' | Accel

/** What one test boot found. */
export interface AccelProbe {
  ok: boolean
  accel: Accel
  ms: number
  /** Why it failed (from the console when the guest said something). */
  reason?: string
}

export interface AccelVerdict {
  /** The accelerator to run under; undefined when neither is usable. */
  accel?: Accel
  kvm: 'works' | 'fails' | 'absent'
  reason: string
  hint: string
}

const CACHE_TTL_MS = 24 * 60 * 60 * 1000

/**
 * Which accelerator a VM can really run under. `/dev/kvm` existing proves little (a
 * paravirtualised KVM in a cloud VM cannot run a stock kernel), so KVM is test-booted, once per
 * binary and image (the verdict is cached). TCG is never chosen by `auto` for Firecracker (it
 * has none) and is marked as software emulation for QEMU, which auto-detection then skips.
 */
export async function checkAccel(options: {
  kind: HypervisorKind
  choice: AccelChoice
  binary: string
  image: GuestImage
  timeoutMs: number
  cacheFile: string
  boot: (accel: Accel, timeoutMs: number) => Promise<AccelProbe>
}): Promise<AccelVerdict> {
  const { kind, choice } = options
  const tcgHint =
    kind === 'qemu'
      ? 'Set [vm] accel = "tcg" to run QEMU under software emulation (slow, not hardware isolation), or use the Docker backend.'
      : 'Firecracker needs a working KVM; use the QEMU or Docker backend on this host.'
  if (choice === 'tcg') {
    if (kind === 'firecracker')
      return { kvm: 'absent', reason: 'Firecracker has no software emulation', hint: tcgHint }
    return { accel: 'tcg', kvm: 'absent', reason: '[vm] accel = "tcg"', hint: '' }
  }
  const usable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  )
  const fallback = (kvm: AccelVerdict['kvm'], why: string): AccelVerdict =>
    choice === 'auto' && kind === 'qemu'
      ? { accel: 'tcg', kvm, reason: why, hint: tcgHint }
      : { kvm, reason: why, hint: tcgHint }
  if (!usable) return fallback('absent', '/dev/kvm is missing or not readable and writable')
  const probe = await cachedBoot(options)
  if (probe.ok)
    return { accel: 'kvm', kvm: 'works', reason: `KVM test boot in ${probe.ms} ms`, hint: '' }
  return fallback(
    'fails',
    `a KVM test boot failed: ${probe.reason ?? 'no agent within the timeout'}`,
  )
}

async function cachedBoot(options: {
  binary: string
  image: GuestImage
  timeoutMs: number
  cacheFile: string
  boot: (accel: Accel, timeoutMs: number) => Promise<AccelProbe>
}): Promise<AccelProbe> {
  const binaryInfo = await stat(options.binary).catch(() => undefined)
  const key = JSON.stringify([options.binary, binaryInfo?.mtimeMs ?? 0, options.image.inputs])
  const cache = await readFile(options.cacheFile, 'utf8')
    .then((text) => JSON.parse(text) as { key: string; at: number; probe: AccelProbe })
    .catch(() => undefined)
  if (cache?.key === key && Date.now() - cache.at < CACHE_TTL_MS) return cache.probe
  const probe = await options.boot('kvm', options.timeoutMs)
  await mkdir(path.dirname(options.cacheFile), { recursive: true })
  await writeFile(options.cacheFile, JSON.stringify({ key, at: Date.now(), probe }))
  return probe
}
