import { expect } from 'vitest'
import type { GauntletBackend } from './options.js'
import { show, type CliResult } from './world.js'

/**
 * A bash prelude for attack scripts run inside the sandbox: `attempt NAME CMD…` runs CMD and
 * prints `ESCAPED NAME …` when it succeeded, `BLOCKED NAME …` when it failed, with the first
 * bytes of its output. `found NAME CMD…` is the reverse for searches: output means escaped.
 */
export const PRELUDE = String.raw`
attempt() {
  local name=$1; shift
  local out rc
  out=$( ( "$@" ) 2>&1 ); rc=$?
  if [ $rc -eq 0 ]; then verdict=ESCAPED; else verdict=BLOCKED; fi
  printf '%s %s rc=%s %s\n' "$verdict" "$name" "$rc" "$(printf %s "$out" | head -c 160 | tr '\n\r\t' '   ')"
}
found() {
  local name=$1; shift
  local out
  out=$( ( "$@" ) 2>/dev/null | head -c 400 )
  if [ -n "$out" ]; then verdict=ESCAPED; else verdict=BLOCKED; fi
  printf '%s %s %s\n' "$verdict" "$name" "$(printf %s "$out" | head -c 160 | tr '\n\r\t' '   ')"
}
`

export interface Attempt {
  name: string
  blocked: boolean
  detail: string
}

/** The attempts an attack script reported. */
export function parseAttempts(stdout: string): Map<string, Attempt> {
  const out = new Map<string, Attempt>()
  for (const line of stdout.split('\n')) {
    const m = /^(ESCAPED|BLOCKED) (\S+) ?(.*)$/.exec(line)
    if (m === null) continue
    out.set(m[2] ?? '', { name: m[2] ?? '', blocked: m[1] === 'BLOCKED', detail: m[3] ?? '' })
  }
  return out
}

/**
 * Attempts whose success only matters when the sandbox shares the host's kernel (a container):
 * inside a microVM the agent is root of its own guest kernel, so mounting, mknod, namespaces and
 * kernel knobs there touch nothing of the host. For those backends the host checks are the proof.
 */
export const SHARED_KERNEL_ONLY = new Set([
  'gain-privilege',
  'no-new-privs-off',
  'mknod-char',
  'mknod-block',
  'mknod-mem',
  'host-disk-devices',
  'mount-tmpfs',
  'mount-bind',
  'mount-proc',
  'remount-sys',
  'unshare-user',
  'unshare-mount',
  'unshare-net',
  'unshare-pid',
  'nsenter-pid1',
  'chroot',
  'setpriv-caps',
  'core-pattern',
  'sysrq',
  'release-agent',
  'modprobe',
  'icmp-raw',
])

function isVm(backend: GauntletBackend | undefined): boolean {
  return backend === 'qemu' || backend === 'firecracker'
}

/**
 * Every named attempt ran and was blocked (on a microVM backend, those of
 * {@link SHARED_KERNEL_ONLY} may succeed inside the guest); returns the attempts and what the
 * guest allowed.
 */
export function expectAllBlocked(
  result: CliResult,
  names: string[],
  backend?: GauntletBackend,
): Map<string, Attempt> & { allowedInGuest?: string[] } {
  const attempts: Map<string, Attempt> & { allowedInGuest?: string[] } = parseAttempts(
    result.stdout,
  )
  const escaped = [...attempts.values()].filter((a) => !a.blocked)
  const guest = isVm(backend) ? escaped.filter((a) => SHARED_KERNEL_ONLY.has(a.name)) : []
  attempts.allowedInGuest = guest.map((a) => a.name)
  expect(
    escaped.filter((a) => !guest.includes(a)),
    `attempts that succeeded:\n${show(result)}`,
  ).toEqual([])
  const missing = names.filter((n) => !attempts.has(n))
  expect(missing, `attempts that never reported:\n${show(result)}`).toEqual([])
  return attempts
}

/** A note for what a microVM's own kernel allowed (nothing of the host). */
export function guestNote(attempts: { allowedInGuest?: string[] }): string {
  const allowed = attempts.allowedInGuest ?? []
  return allowed.length === 0
    ? ''
    : `; inside the VM's own kernel these succeed and touch nothing of the host: ${allowed.join(', ')}`
}

/** Single-quotes a string for bash. */
export function q(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}
