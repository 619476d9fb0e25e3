import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Duplex } from 'node:stream'
import type Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { imageTreeSource } from '../../src/sandbox/docker/image-export.js'
import {
  AGENT_MARKER,
  buildGuestImage,
  createWorkspaceDrive,
  loadGuestImage,
  pruneGuestImages,
  type BuiltGuestImage,
  type GuestImageOptions,
} from '../../src/sandbox/microvm/image/index.js'
import { openDriveTree } from '../../src/sandbox/microvm/ext4/index.js'
import { findTool } from '../../src/sandbox/microvm/image/tools.js'
import { QemuHypervisor, probeBoot, type QemuVm } from '../../src/sandbox/microvm/qemu/index.js'
import { recoverWorkspaceDrive } from '../../src/sandbox/microvm/recover.js'
import { DEFAULT_MAX_FILE_BYTES } from '../../src/sandbox/types.js'
import type { VmLaunchSpec } from '../../src/sandbox/microvm/types.js'
import { FrameDecoder, FrameKind, encodeJson, parseJson } from '../../src/guest/protocol.js'
import { SafeCoderError } from '../../src/shared/errors.js'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { requireDocker } from '../helpers/docker.js'

/**
 * Real TCG boots of a real guest image (this host's /dev/kvm cannot run a stock kernel). The
 * image is cached across runs under a fixed directory; a cold build takes ~15-20 s here, a boot
 * to the agent marker ~3-4 s.
 */

/** Shared with test/unit/sandbox/microvm/kernel-fixture.ts (the kernel package is reused). */
const CACHE = path.join(os.tmpdir(), 'safe-coder-test', 'vm')
const REAL_AGENT = path.resolve('dist/guest')

/** A line-command stand-in for the guest agent, for byte-level channel tests. */
const STAND_IN_AGENT = `// Stand-in guest agent for the microVM tests: line commands over the virtio-serial port.
import fs from 'node:fs'
import os from 'node:os'

const args = process.argv.slice(2)
const device = args[args.indexOf('--device') + 1]
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
const info = () =>
  JSON.stringify({
    release: os.release(),
    hostname: os.hostname(),
    netifs: fs.readdirSync('/sys/class/net').sort(),
    routes: fs.readFileSync('/proc/net/route', 'utf8').trim().split('\\n').length - 1,
    uid: process.getuid(),
    workspace: fs.readdirSync('/workspace').sort(),
    rootMount: fs.readFileSync('/proc/mounts', 'utf8').split('\\n').find((l) => l.split(' ')[1] === '/'),
    workspaceMount: fs.readFileSync('/proc/mounts', 'utf8').split('\\n').find((l) => l.split(' ')[1] === '/workspace'),
    rootWritable: (() => { try { fs.writeFileSync('/etc/sc-probe', 'x'); return true } catch { return false } })(),
  })
process.stderr.write('stand-in agent on ' + device + '\\n')
const fd = fs.openSync(device, 'r+')
const buf = Buffer.alloc(65536)
let pending = ''
for (;;) {
  const n = fs.readSync(fd, buf, 0, buf.length, null)
  if (n === 0) {
    pause(50) // no host connected yet: reads return EOF
    continue
  }
  pending += buf.subarray(0, n).toString()
  let nl
  while ((nl = pending.indexOf('\\n')) >= 0) {
    const line = pending.slice(0, nl)
    pending = pending.slice(nl + 1)
    const [cmd, ...rest] = line.split(' ')
    let reply
    if (cmd === 'info') reply = info()
    else if (cmd === 'echo') reply = rest.join(' ')
    else if (cmd === 'write') {
      fs.writeFileSync('/workspace/' + rest[0], rest.slice(1).join(' '))
      reply = 'written'
    } else if (cmd === 'exit') {
      fs.writeSync(fd, 'bye\\n')
      process.exit(0)
    } else reply = 'unknown ' + cmd
    fs.writeSync(fd, reply + '\\n')
  }
}
`

let docker: Docker
let work: string
let image: BuiltGuestImage
let baseOptions: Omit<GuestImageOptions, 'agentDir'>
const hypervisor = new QemuHypervisor()
const live: QemuVm[] = []

function requireTools(): void {
  const missing: string[] = []
  if (process.getuid?.() !== 0) missing.push('root')
  for (const tool of ['qemu-system-x86_64', 'mkfs.ext4', 'debugfs', 'dpkg-deb', 'apt-get']) {
    if (spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status !== 0)
      missing.push(tool)
  }
  if (!existsSync('/bin/busybox')) missing.push('busybox-static')
  if (missing.length > 0)
    throw new Error(
      `The microVM tests need ${missing.join(', ')} (scripts/provision installs them).`,
    )
}

beforeAll(async () => {
  requireTools()
  docker = await requireDocker()
  work = await mkdtemp(path.join(os.tmpdir(), 'sc-microvm-'))
  const agentDir = path.join(CACHE, 'stand-in-agent')
  await mkdir(agentDir, { recursive: true })
  if (
    !existsSync(path.join(agentDir, 'main.js')) ||
    readFileSync(path.join(agentDir, 'main.js'), 'utf8') !== STAND_IN_AGENT
  )
    await writeFile(path.join(agentDir, 'main.js'), STAND_IN_AGENT)
  baseOptions = { cacheDir: CACHE, tree: await imageTreeSource(docker, SANDBOX_IMAGE) }
  const started = Date.now()
  image = await buildGuestImage({ ...baseOptions, agentDir })
  console.log(
    `guest image ${image.reused ? 'reused' : 'built'} in ${Date.now() - started} ms: ${image.dir}`,
  )
}, 300_000)

afterAll(async () => {
  await Promise.all(live.map((vm) => vm.kill()))
  // The sandbox image and dist/guest change as the project does: keep the cache bounded.
  const current = (image as BuiltGuestImage | undefined)?.dir
  await pruneGuestImages(CACHE, { keep: 3, except: current === undefined ? [] : [current] })
  const workDir = work as string | undefined
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true })
})

async function launch(
  name: string,
  options: { mirror?: string; image?: BuiltGuestImage; abortOnSpawn?: boolean } = {},
): Promise<{ vm: QemuVm; drive: string; runDir: string }> {
  const runDir = path.join(work, name)
  await mkdir(runDir, { recursive: true })
  const mirror = options.mirror ?? path.join(runDir, 'mirror')
  if (options.mirror === undefined) {
    await mkdir(mirror)
    await writeFile(path.join(mirror, 'hello.txt'), 'from the host\n')
  }
  const drive = path.join(runDir, 'workspace.ext4')
  await createWorkspaceDrive(mirror, drive)
  const controller = new AbortController()
  const spec: VmLaunchSpec = {
    id: `test-${name}-${process.pid}`,
    runDir,
    image: options.image ?? image,
    workspaceDrive: drive,
    vcpus: 2,
    memMib: 1024,
    accel: 'tcg',
    labels: { 'safe-coder.test': name },
    signal: controller.signal,
  }
  if (options.abortOnSpawn === true) {
    // launch() opens qemu.log just before it spawns QEMU: abort while QEMU initialises.
    const timer = setInterval(() => {
      if (!existsSync(path.join(runDir, 'qemu.log'))) return
      clearInterval(timer)
      setTimeout(() => {
        controller.abort()
      }, 5)
    }, 1)
  }
  const vm = await hypervisor.launch(spec)
  live.push(vm)
  return { vm, drive, runDir }
}

async function waitForConsole(vm: QemuVm, text: string, timeoutMs = 60_000): Promise<number> {
  const started = Date.now()
  for (;;) {
    const text2 = await vm.consoleTail(64 * 1024)
    if (text2.includes(text)) return Date.now() - started
    if (Date.now() - started > timeoutMs)
      throw new Error(`no "${text}" on the console within ${timeoutMs} ms:\n${text2.slice(-3000)}`)
    const exited = await Promise.race([vm.exited, new Promise((r) => setTimeout(r, 50, undefined))])
    if (exited !== undefined)
      throw new Error(`the VM exited: ${JSON.stringify(exited)}\n${text2.slice(-3000)}`)
  }
}

/** Line-oriented request/reply over the stand-in agent's channel. */
function lines(channel: Duplex): (request: string) => Promise<string> {
  let buffer = ''
  const waiting: ((line: string) => void)[] = []
  channel.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    let nl
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      waiting.shift()?.(line)
    }
  })
  return (request) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no reply to ${request.slice(0, 40)}`))
      }, 30_000)
      waiting.push((line) => {
        clearTimeout(timer)
        resolve(line)
      })
      channel.write(`${request}\n`)
    })
}

function qemuProcessesNamed(id: string): number[] {
  const pids: number[] = []
  for (const entry of spawnSync('ls', ['/proc'], { encoding: 'utf8' }).stdout.split('\n')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (
        cmdline.includes(`guest=${id}`) &&
        !readFileSync(`/proc/${entry}/stat`, 'utf8').includes(') Z ')
      )
        pids.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return pids
}

describe('guest image', () => {
  it('is complete, read-only, and reused from the cache', async () => {
    expect(image.kernelRelease).toMatch(/^\d+\.\d+\.\d+/)
    expect(image.kernelRelease).not.toBe(os.release())
    const kernel = await readFile(image.kernel)
    expect(kernel.readUInt32BE(0)).toBe(0x7f454c46)
    expect((await stat(image.rootfs)).mode & 0o222).toBe(0)
    expect(image.manifest.modules).toEqual(
      expect.arrayContaining(['ext4', 'overlay', 'virtio_console', 'virtio_blk']),
    )
    const started = Date.now()
    const again = await buildGuestImage({
      ...baseOptions,
      agentDir: path.join(CACHE, 'stand-in-agent'),
    })
    expect(again.reused).toBe(true)
    expect(again.dir).toBe(image.dir)
    expect(Date.now() - started).toBeLessThan(10_000)
    console.log(
      `sizes: vmlinux ${mib(image.manifest.sizes.kernel)}, initrd ${mib(image.manifest.sizes.initrd)}, rootfs ${mib(image.manifest.sizes.rootfs)} (allocated ${mib((await stat(image.rootfs)).blocks * 512)}); cached lookup ${Date.now() - started} ms`,
    )
  })

  it('cancels a build cleanly and keeps the cached image', async () => {
    const controller = new AbortController()
    const error = await buildGuestImage({
      ...baseOptions,
      agentDir: path.join(CACHE, 'stand-in-agent'),
      force: true,
      signal: controller.signal,
      onProgress: (step) => {
        if (step === 'initramfs') controller.abort()
      },
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).code).toBe('ABORTED')
    expect((await readdir(CACHE)).filter((name) => name.startsWith('.build-'))).toEqual([])
    expect(await loadGuestImage(image.dir)).toBeDefined()
  }, 120_000)
})

describe('QEMU microvm under TCG', () => {
  it('boots, carries bytes both ways, isolates the network, and powers off when the agent exits', async () => {
    const started = Date.now()
    const { vm, drive, runDir } = await launch('boot')
    expect(vm.kind).toBe('qemu')
    expect(vm.accel).toBe('tcg')
    const info = JSON.parse(await readFile(path.join(runDir, 'vm.json'), 'utf8')) as Record<
      string,
      unknown
    >
    expect(info).toMatchObject({
      id: vm.id,
      pid: vm.pid,
      kind: 'qemu',
      accel: 'tcg',
      labels: { 'safe-coder.test': 'boot' },
    })
    const channel = await vm.connectAgent()
    const markerMs = await waitForConsole(vm, AGENT_MARKER)
    console.log(`boot to marker: ${Date.now() - started} ms (${markerMs} ms after launch returned)`)
    const ask = lines(channel)

    const guest = JSON.parse(await ask('info')) as {
      release: string
      hostname: string
      netifs: string[]
      routes: number
      uid: number
      workspace: string[]
      rootMount: string
      workspaceMount: string
      rootWritable: boolean
    }
    expect(guest.release).toBe(image.kernelRelease)
    expect(guest.release).not.toBe(os.release())
    expect(guest.netifs).toEqual(['lo'])
    expect(guest.routes).toBe(0)
    expect(guest.hostname).toBe('safe-coder')
    expect(guest.uid).toBe(0)
    expect(guest.workspace).toContain('hello.txt')
    expect(guest.rootMount).toMatch(/^overlay \/ overlay .*lowerdir=/)
    expect(guest.workspaceMount).toMatch(/^\/dev\/vd[a-z] \/workspace ext4 rw,sync,nosuid,nodev/)
    // Writes go to the tmpfs overlay; the shared base image is never touched.
    expect(guest.rootWritable).toBe(true)

    const big = 'x'.repeat(200_000)
    expect(await ask(`echo ${big}`)).toBe(big)
    expect(await ask('echo ünïcødé ✓')).toBe('ünïcødé ✓')

    const stats = await vm.hostStats()
    expect(stats.cpuSeconds).toBeGreaterThan(0.5)
    expect(stats.rssBytes).toBeGreaterThan(50 * 1024 * 1024)
    console.log(`VMM: ${stats.cpuSeconds.toFixed(1)} CPU s, RSS ${mib(stats.rssBytes)}`)

    expect(await ask('write made-in-guest.txt hello from the guest')).toBe('written')
    expect(await ask('exit')).toBe('bye')
    const exit = await Promise.race([
      vm.exited,
      new Promise((r) => setTimeout(r, 30_000, 'timeout')),
    ])
    expect(exit).toEqual({ code: 0, signal: null })
    const consoleText = await vm.consoleTail()
    expect(consoleText).toMatch(/safe-coder: agent exited with status 0/)
    expect(consoleText).toMatch(/EXT4-fs \(vd.\): unmounting filesystem/)

    // The guest's writes are on the drive.
    expect(await driveFiles(drive)).toEqual({
      'hello.txt': 'from the host\n',
      'made-in-guest.txt': 'hello from the guest',
    })
    // The base image is unchanged (and was opened read-only).
    expect((await stat(image.rootfs)).size).toBe(image.manifest.sizes.rootfs)
  })

  it("reads what a killed guest's kernel left in the drive's journal, without writing the drive", async () => {
    const { vm, drive } = await launch('journal')
    const ask = lines(await vm.connectAgent())
    await waitForConsole(vm, AGENT_MARKER)
    expect(await ask('write journaled.txt written just before the kill')).toBe('written')
    process.kill(vm.pid, 'SIGKILL')
    expect((await vm.exited).signal).toBe('SIGKILL')
    // The kernel's own journal (64-bit, checksummed) with work in it that was never unmounted.
    const dumpe2fs = (await findTool('dumpe2fs')) ?? 'dumpe2fs'
    const header = spawnSync(dumpe2fs, ['-h', drive], { encoding: 'utf8' }).stdout
    expect(header).toMatch(/features:.*needs_recovery/)
    expect(header).toMatch(/Journal features:.*journal_64bit.*journal_checksum_v3/)
    expect(header).not.toMatch(/Journal start:\s+0\n/)
    const bytes = await readFile(drive)
    const files = await driveFiles(drive)
    expect(files['journaled.txt']).toBe('written just before the kill')
    expect((await readFile(drive)).equals(bytes)).toBe(true)
    // e2fsck's replay of a copy reads the same.
    const copy = `${drive}.e2fsck`
    await writeFile(copy, bytes)
    const e2fsck = spawnSync((await findTool('e2fsck')) ?? 'e2fsck', [
      '-E',
      'journal_only',
      '-y',
      copy,
    ])
    expect(e2fsck.status).toBeLessThan(4)
    expect(await driveFiles(copy)).toEqual(files)
  })

  it('resolves `exited` when the VMM is killed from outside, and says the VM is gone', async () => {
    const { vm } = await launch('killed')
    await waitForConsole(vm, 'Run /init', 60_000)
    process.kill(vm.pid, 'SIGKILL')
    const exit = await vm.exited
    expect(exit.signal).toBe('SIGKILL')
    const error = await vm.connectAgent().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).code).toBe('SANDBOX_GONE')
    await vm.kill() // idempotent
    expect(await vm.hostStats()).toEqual({ cpuSeconds: 0, rssBytes: 0 })
    expect(qemuProcessesNamed(vm.id)).toEqual([])
  })

  it('kills the VMM on kill()', async () => {
    const { vm } = await launch('kill')
    await vm.kill()
    expect((await vm.exited).signal).toBe('SIGKILL')
    expect(qemuProcessesNamed(vm.id)).toEqual([])
  })

  it('leaves no VMM behind when the launch is aborted', async () => {
    const runDir = path.join(work, 'aborted')
    // Mid-launch: QEMU has been spawned and is still initialising.
    const error = await launch('aborted', { abortOnSpawn: true }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).code).toBe('ABORTED')
    await new Promise((r) => setTimeout(r, 200))
    expect(qemuProcessesNamed(`test-aborted-${process.pid}`)).toEqual([])
    expect(existsSync(path.join(runDir, 'vm.json'))).toBe(false)
  })

  it('reports why QEMU would not start', async () => {
    const broken = { ...image, rootfs: path.join(work, 'missing.ext4') }
    const error = await launch('broken', { image: broken }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).code).toBe('SANDBOX_FAILED')
    expect((error as SafeCoderError).message).toMatch(/missing\.ext4/)
  })

  it('test-boots under TCG (probeBoot)', async () => {
    const result = await probeBoot({ image, accel: 'tcg', timeoutMs: 60_000, workDir: work })
    expect(result.reason).toBeUndefined()
    expect(result.ok).toBe(true)
    expect(result.consoleTail).toContain(AGENT_MARKER)
    console.log(`probeBoot tcg: ${result.ms} ms`)
  })

  it('reports a KVM test boot that cannot work, within its timeout', async () => {
    const timeoutMs = 20_000
    const started = Date.now()
    const result = await probeBoot({ image, accel: 'kvm', timeoutMs, workDir: work })
    const elapsed = Date.now() - started
    console.log(
      `probeBoot kvm: ${JSON.stringify({ ...result, consoleTail: result.consoleTail.slice(-300) })}`,
    )
    expect(result.accel).toBe('kvm')
    expect(elapsed).toBeLessThan(timeoutMs + 5_000)
    if (!result.ok) {
      // Here: QEMU aborts setting an MSR with -cpu host, or the guest hangs until the timeout.
      expect(result.reason).toMatch(/\S/)
    }
    expect((await readdir(work)).filter((name) => name.startsWith('probe-kvm'))).toEqual([])
    expect(qemuProcessesNamed('probe-kvm')).toEqual([])
  }, 60_000)
})

describe('workspace drive', () => {
  it('round-trips a tree through mkfs.ext4 -d and the recovery reader: kinds, modes, bytes, links', async () => {
    const mirror = path.join(work, 'rt-mirror')
    await mkdir(path.join(mirror, 'src/deep/deeper'), { recursive: true })
    await mkdir(path.join(mirror, 'empty dir'))
    await writeFile(path.join(mirror, 'README.md'), '# hi\n')
    await writeFile(path.join(mirror, 'src/run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 })
    await writeFile(path.join(mirror, 'src/secret'), 'key', { mode: 0o600 })
    await writeFile(path.join(mirror, 'src/deep/deeper/empty'), '')
    await writeFile(
      path.join(mirror, 'src/deep/blob.bin'),
      Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7919) % 251)),
    )
    await writeFile(path.join(mirror, 'naïve "quoted" name.txt'), 'unicode')
    await symlink('README.md', path.join(mirror, 'link-relative'))
    await symlink('/etc/passwd', path.join(mirror, 'link-absolute'))
    await symlink('does/not/exist', path.join(mirror, 'link-dangling'))
    await chown(path.join(mirror, 'src/secret'), 1234, 5678)
    await chown(path.join(mirror, 'src'), 1000, 1000)
    await chmod(path.join(mirror, 'empty dir'), 0o700)
    await chown(mirror, 1000, 1000)
    await chmod(mirror, 0o750)

    const drive = path.join(work, 'rt.ext4')
    const made = await createWorkspaceDrive(mirror, drive)
    expect(made.sizeBytes).toBeGreaterThanOrEqual(1024 * 1024 * 1024)
    // Sparse: only what was written takes space.
    expect((await stat(drive)).blocks * 512).toBeLessThan(made.sizeBytes / 4)
    // The drive's root is the mirror's own (owner and mode), as the guest sees /workspace.
    const root = spawnSync((await findTool('debugfs')) ?? 'debugfs', ['-R', 'stat /', drive], {
      encoding: 'utf8',
    }).stdout
    expect(root).toMatch(/Mode:\s+0750/)
    expect(root).toMatch(/User:\s+1000\s+Group:\s+1000/)
    // Recovered into an empty mirror, then again: the same tree, then nothing to do.
    const recovered = path.join(work, 'rt-recovered')
    await mkdir(recovered)
    const first = await recoverWorkspaceDrive(drive, recovered, DEFAULT_MAX_FILE_BYTES)
    expect(first.refused).toEqual([])
    expect(first.skipped).toEqual([])
    expect(await describeTree(recovered)).toEqual(await describeTree(mirror))
    expect((await recoverWorkspaceDrive(drive, recovered, DEFAULT_MAX_FILE_BYTES)).changed).toEqual(
      [],
    )
  })
})

describe.skipIf(!existsSync(path.join(REAL_AGENT, 'main.js')))('with the real guest agent', () => {
  it('answers a hello over virtio-serial and shuts the VM down on request', async () => {
    const real = await buildGuestImage({ ...baseOptions, agentDir: REAL_AGENT })
    const { vm } = await launch('real-agent', { image: real })
    const channel = await vm.connectAgent()
    const replies: Record<string, unknown>[] = []
    const decoder = new FrameDecoder({ maxPayload: 1 << 20 }, (frame) => {
      if (frame.kind === FrameKind.json) replies.push({ id: frame.id, ...parseJson(frame.payload) })
    })
    channel.on('data', (chunk: Buffer) => {
      decoder.push(chunk)
    })
    channel.write(encodeJson(1, { op: 'hello', protocol: 1 }))
    const deadline = Date.now() + 90_000
    while (!replies.some((r) => r.id === 1) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100))
    const hello = replies.find((r) => r.id === 1)
    expect(hello, await vm.consoleTail()).toBeDefined()
    expect(hello).toMatchObject({ ok: true, kernel: real.kernelRelease, root: '/workspace' })
    channel.write(encodeJson(2, { op: 'shutdown' }))
    const exit = await Promise.race([
      vm.exited,
      new Promise((r) => setTimeout(r, 30_000, 'timeout')),
    ])
    expect(exit).toEqual({ code: 0, signal: null })
  }, 240_000)
})

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** Every entry below `root` (and root itself): type, mode, owner, size, content hash or target. */
/** Kinds, permission bits, bytes and link targets (owners and times are the mirror's own). */
async function describeTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      const child = rel === '' ? name : `${rel}/${name}`
      const full = path.join(root, child)
      const info = await lstat(full)
      const mode = (info.mode & 0o777).toString(8)
      if (info.isDirectory()) {
        out[child] = `dir ${mode}`
        await walk(child)
      } else if (info.isSymbolicLink()) out[child] = `link -> ${await readlink(full)}`
      else {
        const { createHash } = await import('node:crypto')
        const digest = createHash('sha256')
          .update(await readFile(full))
          .digest('hex')
        out[child] = `file ${mode} ${info.size} ${digest.slice(0, 16)}`
      }
    }
  }
  await walk('')
  return out
}

/** A drive's regular files and their text, read by the recovery reader. */
async function driveFiles(drive: string): Promise<Record<string, string>> {
  const tree = await openDriveTree(drive)
  try {
    const out: Record<string, string> = {}
    for (const entry of tree.entries)
      if (entry.kind === 'file') out[entry.path] = (await tree.read(entry)).toString()
    return out
  } finally {
    await tree.close()
  }
}
