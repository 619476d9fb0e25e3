import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  QEMU_BOOT_ARGS,
  qemuArgs,
  qemuBootArgs,
  qemuValue,
  tscKhzOfCpuinfo,
} from '../../../../src/sandbox/microvm/qemu/argv.js'
import {
  fileTail,
  parseCpuSeconds,
  parseRssBytes,
  readHostStats,
} from '../../../../src/sandbox/microvm/host-stats.js'
import { connectUnix } from '../../../../src/sandbox/microvm/qemu/hypervisor.js'
import { QmpClient, QmpError } from '../../../../src/sandbox/microvm/qemu/qmp.js'
import { AGENT_SERIAL_NAME, type VmLaunchSpec } from '../../../../src/sandbox/microvm/types.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sc-qemu-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

function spec(overrides: Partial<VmLaunchSpec> = {}): VmLaunchSpec {
  return {
    id: 'vm-1',
    runDir: '/run/sc/vm-1',
    image: {
      dir: '/cache/img',
      kernel: '/cache/img/vmlinux',
      initrd: '/cache/img/initrd.cpio',
      rootfs: '/cache/img/rootfs.ext4',
      kernelRelease: '6.1.0-56-amd64',
      inputs: 'abc',
    },
    workspaceDrive: '/run/sc/vm-1/workspace.ext4',
    vcpus: 2,
    memMib: 1024,
    accel: 'tcg',
    labels: {},
    ...overrides,
  }
}

/** The value following `flag` each time it occurs. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag ? [args[i + 1] ?? ''] : []))
}

describe('qemuArgs', () => {
  it('boots microvm with no network device and no defaults', () => {
    const args = qemuArgs(spec())
    expect(values(args, '-M')[0]).toMatch(/^microvm,/)
    expect(values(args, '-M')[0]).toContain('x-option-roms=off')
    for (const flag of ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot'])
      expect(args).toContain(flag)
    for (const flag of ['-netdev', '-nic', '-net']) expect(args).not.toContain(flag)
    expect(args.join(' ')).not.toMatch(/virtio-net|netdev/)
    expect(values(args, '-name')).toEqual(['guest=vm-1'])
    expect(values(args, '-m')).toEqual(['1024'])
    expect(values(args, '-smp')).toEqual(['2'])
  })

  it('attaches the root read-only and the workspace read-write, with serials', () => {
    const args = qemuArgs(spec())
    const drives = values(args, '-drive')
    expect(drives).toEqual([
      'id=root,file=/cache/img/rootfs.ext4,format=raw,if=none,readonly=on',
      'id=workspace,file=/run/sc/vm-1/workspace.ext4,format=raw,if=none,discard=unmap,werror=report,rerror=report',
    ])
    const devices = values(args, '-device')
    expect(devices).toContain('virtio-blk-device,drive=root,serial=sc-root')
    expect(devices).toContain('virtio-blk-device,drive=workspace,serial=sc-workspace')
    expect(devices).toContain('virtio-serial-device')
    expect(devices).toContain(`virtserialport,chardev=agent,name=${AGENT_SERIAL_NAME}`)
    expect(values(args, '-chardev')).toContain('socket,id=agent,path=agent.sock,server=on,wait=off')
    expect(values(args, '-qmp')).toEqual(['unix:qmp.sock,server=on,wait=off'])
    expect(values(args, '-serial')).toEqual(['chardev:console'])
    expect(values(args, '-kernel')).toEqual(['/cache/img/vmlinux'])
    expect(values(args, '-initrd')).toEqual(['/cache/img/initrd.cpio'])
  })

  it('makes host paths absolute (QEMU runs in the runDir) and escapes commas', () => {
    const args = qemuArgs(spec({ workspaceDrive: 'rel/ws,1.ext4', id: 'a,b' }))
    expect(values(args, '-drive')[1]).toBe(
      `id=workspace,file=${path.resolve('rel/ws,,1.ext4')},format=raw,if=none,discard=unmap,werror=report,rerror=report`,
    )
    expect(values(args, '-name')).toEqual(['guest=a,,b'])
    expect(qemuValue('x,y,,z')).toBe('x,,y,,,,z')
  })

  it('picks the accelerator and CPU model', () => {
    expect(values(qemuArgs(spec({ accel: 'kvm' })), '-accel')).toEqual(['kvm'])
    expect(values(qemuArgs(spec({ accel: 'kvm' })), '-cpu')).toEqual(['host'])
    expect(values(qemuArgs(spec({ accel: 'tcg' })), '-cpu')).toEqual(['max'])
    expect(values(qemuArgs(spec(), { cpu: 'qemu64' }), '-cpu')).toEqual(['qemu64'])
  })

  it('builds the kernel command line', () => {
    expect(qemuBootArgs(spec())).toBe(QEMU_BOOT_ARGS)
    expect(QEMU_BOOT_ARGS).toMatch(/console=ttyS0/)
    expect(QEMU_BOOT_ARGS).toMatch(/panic=1/)
    expect(qemuBootArgs(spec({ kernelArgs: ' quiet ' }), { tscKhz: 2_596_122 })).toBe(
      `${QEMU_BOOT_ARGS} tsc_early_khz=2596122 quiet`,
    )
    // Only emulation needs the TSC frequency: KVM calibrates against real hardware.
    expect(qemuBootArgs(spec({ accel: 'kvm' }), { tscKhz: 2_596_122 })).toBe(QEMU_BOOT_ARGS)
    expect(values(qemuArgs(spec(), { tscKhz: 1000 }), '-append')[0]).toContain('tsc_early_khz=1000')
  })

  it('adds the seccomp sandbox on request', () => {
    expect(qemuArgs(spec())).not.toContain('-sandbox')
    expect(values(qemuArgs(spec(), { seccomp: true }), '-sandbox')[0]).toMatch(/^on,/)
  })

  it('rejects impossible sizes', () => {
    expect(() => qemuArgs(spec({ vcpus: 0 }))).toThrow(RangeError)
    expect(() => qemuArgs(spec({ memMib: 64 }))).toThrow(RangeError)
    expect(() => qemuArgs(spec({ vcpus: 1.5 }))).toThrow(RangeError)
  })

  it('reads the host TSC frequency from /proc/cpuinfo', () => {
    expect(
      tscKhzOfCpuinfo('processor\t: 0\ncpu MHz\t\t: 2596.122\n\ncpu MHz\t\t: 2000.000\n'),
    ).toBe(2_596_122)
    expect(tscKhzOfCpuinfo('processor: 0\n')).toBeUndefined()
  })

  it('runs under the installed QEMU (argument syntax check)', (ctx) => {
    if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) ctx.skip()
    // -M microvm with the machine options must parse; "help" lists the machine's properties.
    const out = spawnSync(
      'qemu-system-x86_64',
      ['-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=on,help'],
      {
        encoding: 'utf8',
      },
    )
    expect(out.status).toBe(0)
  })
})

describe('host stats', () => {
  it('parses utime+stime even when the name holds spaces and parentheses', () => {
    const line =
      '1234 (qemu (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0'
    expect(parseCpuSeconds(line)).toBe(3)
    expect(parseRssBytes('Name:\tqemu\nVmRSS:\t  409600 kB\n')).toBe(409600 * 1024)
    expect(parseRssBytes('Name:\tx\n')).toBe(0)
  })

  it('measures a live process', async () => {
    let x = 0
    for (let i = 0; i < 5e7; i++) x += i
    expect(x).toBeGreaterThan(0)
    const stats = await readHostStats(process.pid)
    expect(stats.cpuSeconds).toBeGreaterThan(0)
    expect(stats.rssBytes).toBeGreaterThan(10 * 1024 * 1024)
    await expect(readHostStats(2 ** 30)).rejects.toMatchObject({ code: 'SANDBOX_GONE' })
  })

  it('tails a file from a line boundary', async () => {
    const file = path.join(dir, 'console.log')
    await writeFile(file, 'first line\nsecond line\nthird line\n')
    expect(await fileTail(file, 1000)).toBe('first line\nsecond line\nthird line\n')
    expect(await fileTail(file, 15)).toBe('third line\n')
    expect(await fileTail(path.join(dir, 'missing'), 10)).toBe('')
  })
})

/** A scripted QMP server on a unix socket. */
async function fakeQmp(
  socketPath: string,
  answer: (
    command: { execute: string; id?: string; arguments?: unknown },
    reply: (msg: object) => void,
    socket: net.Socket,
  ) => void,
): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const reply = (msg: object): void => {
      socket.write(`${JSON.stringify(msg)}\r\n`)
    }
    reply({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: ['oob'] } })
    let buffer = ''
    socket.on('data', (chunk) => {
      buffer += chunk.toString()
      let nl
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        answer(JSON.parse(line) as { execute: string; id?: string }, reply, socket)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  return server
}

describe('QmpClient', () => {
  it('negotiates capabilities, queries status, passes events and errors', async () => {
    const socketPath = path.join(dir, 'qmp1.sock')
    const seen: string[] = []
    const server = await fakeQmp(socketPath, (cmd, reply) => {
      seen.push(cmd.execute)
      if (cmd.execute === 'qmp_capabilities') reply({ return: {}, id: cmd.id })
      else if (cmd.execute === 'query-status') {
        reply({ event: 'RESUME', timestamp: { seconds: 1, microseconds: 0 } })
        reply({ return: { status: 'running', running: true }, id: cmd.id })
      } else
        reply({
          error: {
            class: 'CommandNotFound',
            desc: `The command ${cmd.execute} has not been found`,
          },
          id: cmd.id,
        })
    })
    try {
      const client = await QmpClient.connect(socketPath)
      const events: string[] = []
      client.onEvent = (event) => events.push(event.event)
      expect(await client.queryStatus()).toEqual({ status: 'running', running: true })
      expect(events).toEqual(['RESUME'])
      const error = await client.execute('nope').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(QmpError)
      expect((error as QmpError).errorClass).toBe('CommandNotFound')
      expect(seen).toEqual(['qmp_capabilities', 'query-status', 'nope'])
      client.close()
    } finally {
      server.close()
    }
  })

  it('rejects pending commands when QEMU goes away, and quit tolerates it', async () => {
    const socketPath = path.join(dir, 'qmp2.sock')
    const server = await fakeQmp(socketPath, (cmd, reply, socket) => {
      if (cmd.execute === 'qmp_capabilities') reply({ return: {}, id: cmd.id })
      else socket.destroy() // QEMU exits on quit before answering, sometimes
    })
    try {
      const client = await QmpClient.connect(socketPath)
      await expect(client.quit()).resolves.toBeUndefined()
      await expect(client.queryStatus()).rejects.toThrow(/closed/)
      expect(client.closed).toBe(true)
    } finally {
      server.close()
    }
  })

  it('times out when no greeting comes', async () => {
    const socketPath = path.join(dir, 'qmp3.sock')
    const server = net.createServer(() => undefined)
    await new Promise<void>((resolve) => server.listen(socketPath, resolve))
    try {
      await expect(QmpClient.connect(socketPath, 200)).rejects.toThrow(/greeting timed out/)
    } finally {
      server.close()
    }
  })
})

describe('connectUnix', () => {
  it('reaches a socket whose path is longer than sun_path allows', async () => {
    const deep = path.join(dir, 'd'.repeat(60), 'e'.repeat(60))
    await mkdir(deep, { recursive: true })
    const socketPath = path.join(deep, 'agent.sock')
    expect(Buffer.byteLength(socketPath)).toBeGreaterThan(107)
    // QEMU binds it relative to its runDir; here a short socket stands behind the long name.
    const short = path.join(dir, 'short.sock')
    const server = net.createServer((socket) => socket.end('hi'))
    await new Promise<void>((resolve) => server.listen(short, resolve))
    await symlink(short, socketPath)
    try {
      const socket = await connectUnix(socketPath)
      const data = await new Promise<string>((resolve) => {
        let got = ''
        socket.on('data', (d: Buffer) => {
          got += d.toString()
        })
        socket.on('end', () => {
          resolve(got)
        })
      })
      expect(data).toBe('hi')
    } finally {
      server.close()
    }
  })
})
