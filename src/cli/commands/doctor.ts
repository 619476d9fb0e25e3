import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  probeAll,
  selectBackend,
  type DiskLimits,
  type ImageInfo,
  type ProbeResult,
} from '../../sandbox/index.js'
import { proveIsolation, type IsolationReport } from '../../sandbox/isolation-proof.js'
import { createId } from '../../shared/ids.js'
import { toErrorInfo, type ErrorInfo } from '../../shared/errors.js'
import { formatBytes } from '../../shared/format.js'
import { VERSION } from '../../shared/version.js'
import { println, type CliContext } from '../context.js'
import { exitCodes } from '../exit-codes.js'
import { loadCommandConfig, withCommonOptions, type CommonOptions } from '../options.js'
import type { RegisterCommand } from './index.js'

interface DoctorReport {
  /** `[network]` as configured: sessions get this egress unless a flag says otherwise. */
  network: { mode: string; allow: string[]; deny: string[] }
  version: string
  backends: ProbeResult[]
  selected?: string
  image?: ImageInfo
  /** What the selected backend's sandboxes may store, and whether each limit holds. */
  disk?: DiskLimits
  isolation?: IsolationReport
  problem?: ErrorInfo
}

/** `safe-coder doctor`: what each backend found, the image, and isolation proven from inside. */
export const registerDoctor: RegisterCommand = (program, ctx, setStatus) => {
  withCommonOptions(program.command('doctor'))
    .description(
      'check every sandbox backend, the image, and prove isolation from inside a live sandbox',
    )
    .option('--json', 'print the report as JSON')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      const report = await runDoctor(ctx, options)
      if (options.json === true) println(ctx.stdout, JSON.stringify(report, null, 2))
      else printReport(ctx, report)
      if (report.problem !== undefined) setStatus(exitCodes[report.problem.code])
      else if (report.isolation?.isolated === false) setStatus(exitCodes.SANDBOX_FAILED)
    })
}

async function runDoctor(ctx: CliContext, options: CommonOptions): Promise<DoctorReport> {
  const { config } = await loadCommandConfig(ctx, options)
  const report: DoctorReport = {
    network: config.network,
    version: VERSION,
    backends: await probeAll(config, ctx.env, ctx.signal),
  }
  try {
    const { backend, probe } = await selectBackend(config, ctx.env, ctx.signal)
    report.selected = probe.kind
    report.disk = await backend.diskLimits?.(ctx.signal)
    report.image = await backend.imageStatus(ctx.signal)
    if (!report.image.present) return report
    report.isolation = await proveInLiveSandbox(backend, ctx.signal)
  } catch (error) {
    report.problem = toErrorInfo(error)
  }
  return report
}

/** Starts a throwaway sandbox on an empty mirror, plants a canary on the host, and looks. */
async function proveInLiveSandbox(
  backend: Awaited<ReturnType<typeof selectBackend>>['backend'],
  signal: AbortSignal,
): Promise<IsolationReport> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-doctor-'))
  const mirror = path.join(dir, 'mirror')
  const canary = `safe-coder-canary-${createId('c')}`
  try {
    await writeFile(
      path.join(dir, canary),
      'if you can read this from inside, isolation is broken\n',
    )
    await mkdir(mirror)
    const sandbox = await backend.create(
      { sessionId: createId('doctor'), mirrorDir: mirror, projectPath: dir },
      signal,
    )
    try {
      return await proveIsolation(sandbox, canary, signal)
    } finally {
      await sandbox.dispose()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function printReport(ctx: CliContext, report: DoctorReport): void {
  const out = (line = ''): void => {
    println(ctx.stdout, line)
  }
  out(`Safe Coder ${report.version}`)
  out()
  out('Backends (auto-detection order):')
  for (const b of report.backends) {
    const mark = !b.available ? '✗' : b.degraded !== undefined ? '!' : '✓'
    const chosen = b.kind === report.selected ? '  ← selected' : ''
    out(
      `  ${mark} ${b.kind.padEnd(12)}${b.available ? b.summary : (b.reason ?? 'unavailable')}${chosen}`,
    )
    // Usable only when asked for by name: say why auto-detection passed it over.
    if (b.degraded !== undefined)
      out(`      ${b.degraded}; auto-detection skips it (--backend ${b.kind} runs it anyway).`)
    if (!b.available && b.hint !== undefined && b.kind === report.selected) out(`      ${b.hint}`)
  }
  if (report.image !== undefined) {
    out()
    out('Image:')
    const img = report.image
    if (img.present) {
      const size = img.sizeBytes === undefined ? '' : `, ${formatBytes(img.sizeBytes)}`
      const id = (img.id ?? '').replace(/^sha256:/, '').slice(0, 12)
      out(
        `  ✓ ${img.image} (${id}${size}${img.created === undefined ? '' : `, created ${img.created}`})`,
      )
    } else {
      out(`  ✗ ${img.image} is not present`)
      if (img.hint !== undefined) out(`      ${img.hint}`)
    }
  }
  if (report.disk !== undefined) printDiskLimits(out, report.disk)
  if (report.isolation !== undefined) {
    const iso = report.isolation
    const ok = (good: boolean): string => (good ? '✓' : '✗')
    out()
    out(`Isolation, seen from inside a live ${report.selected ?? ''} sandbox:`)
    const sharedKernel =
      iso.kernel === iso.hostKernel
        ? ' (shared with the host: container isolation)'
        : ' (own kernel)'
    out(`  · kernel        ${iso.kernel}${sharedKernel}`)
    out(`  · user          uid ${iso.uid}, gid ${iso.gid}`)
    out(
      `  ${ok(iso.interfaces.length === 0 && iso.routes === 0)} network       ${iso.interfaces.length === 0 ? 'loopback only' : iso.interfaces.join(', ')}, ${iso.routes} routes`,
    )
    out(
      `  ${ok(!iso.hostCanaryVisible)} host files    ${iso.hostCanaryVisible ? 'a host canary file IS visible' : 'a canary planted on the host is not visible'}`,
    )
    // In a VM these describe the guest's own kernel, not the host's: shown, not judged.
    const inGuest = (good: boolean): string => (iso.ownKernel ? '·' : ok(good))
    const guestNote = iso.ownKernel ? ' (inside the guest kernel)' : ''
    out(
      `  ${inGuest(/^0+$/.test(iso.capEff))} capabilities  ${/^0+$/.test(iso.capEff) ? 'none' : `CapEff ${iso.capEff}`}${guestNote}`,
    )
    out(
      `  ${inGuest(iso.noNewPrivs)} privileges    ${iso.noNewPrivs ? 'no-new-privileges set' : 'no-new-privileges NOT set'}${guestNote}`,
    )
    out(
      `  ${ok(!iso.dockerSocket)} engine socket ${iso.dockerSocket ? 'a container engine socket is reachable' : 'not reachable'}`,
    )
    out()
    out(iso.isolated ? 'Isolation verified.' : 'Isolation is NOT complete: see the ✗ lines above.')
  }
  out()
  out(`Network (configured for new sessions): ${describeConfiguredNetwork(report.network)}`)
  if (report.problem !== undefined) {
    out()
    out(`✗ ${report.problem.message}`)
    if (report.problem.hint !== undefined) out(`  hint: ${report.problem.hint}`)
  }
}

/** The disk limits; one that is not enforced here is a warning (`!`), with the reason. */
function printDiskLimits(out: (line?: string) => void, disk: DiskLimits): void {
  out()
  out(`Disk limits (${disk.key} = ${disk.mib} MiB):`)
  for (const [name, limit] of [
    ['workspace', disk.workspace],
    ['root', disk.root],
  ] as const)
    out(`  ${limit.enforced ? '✓' : '!'} ${name.padEnd(13)} ${limit.how}`)
}

function describeConfiguredNetwork(n: DoctorReport['network']): string {
  if (n.mode === 'open') {
    return '✗ OPEN: sandboxes can reach the internet and your local network without limit ([network] mode = "open")'
  }
  if (n.mode === 'allowlist') {
    return `✓ allow-list through a logging proxy: ${n.allow.length === 0 ? 'no host yet' : n.allow.join(', ')}`
  }
  return '✓ none (no interface but loopback)'
}
