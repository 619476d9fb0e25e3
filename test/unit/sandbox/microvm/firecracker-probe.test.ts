import { chmod, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  parseFirecrackerVersion,
  probeFirecracker,
} from '../../../../src/sandbox/microvm/firecracker/index.js'
import {
  parseCpuSeconds,
  parseRssBytes,
  readHostStats,
} from '../../../../src/sandbox/microvm/host-stats.js'
import { FAKE_FIRECRACKER_BIN, loadFirecrackerSchema } from '../../../helpers/fake-firecracker.js'
import { tempDir } from '../../../helpers/sandbox.js'

async function fakeKvm(): Promise<string> {
  const file = path.join(await tempDir('sc-fc-kvm-'), 'kvm')
  await writeFile(file, '')
  return file
}

describe('probeFirecracker', () => {
  it('finds the binary, reads its version and checks /dev/kvm access', async () => {
    const probe = await probeFirecracker({
      binary: FAKE_FIRECRACKER_BIN,
      kvmDevice: await fakeKvm(),
    })
    expect(probe).toMatchObject({
      binary: FAKE_FIRECRACKER_BIN,
      version: loadFirecrackerSchema().info.version,
      versionOutput: `Firecracker v${loadFirecrackerSchema().info.version}`,
      supported: true,
      kvm: 'usable',
      ok: true,
    })
  })

  it('finds the binary by name on PATH', async () => {
    const probe = await probeFirecracker({
      binary: path.basename(FAKE_FIRECRACKER_BIN),
      // The fake is a node script: node stays on PATH after it.
      env: {
        ...process.env,
        PATH: `/nonexistent:${path.dirname(FAKE_FIRECRACKER_BIN)}:${process.env.PATH ?? ''}`,
      },
      kvmDevice: await fakeKvm(),
    })
    expect(probe.binary).toBe(FAKE_FIRECRACKER_BIN)
    expect(probe.ok).toBe(true)
  })

  it('says what is missing', async () => {
    const noBinary = await probeFirecracker({
      binary: 'no-such-firecracker',
      env: { PATH: '/nonexistent' },
    })
    expect(noBinary).toMatchObject({ ok: false, supported: false })
    expect(noBinary.reason).toBe(
      'the Firecracker binary "no-such-firecracker" was not found on PATH',
    )
    expect(noBinary.hint).toMatch(/firecracker_bin/)

    const noKvm = await probeFirecracker({
      binary: FAKE_FIRECRACKER_BIN,
      kvmDevice: '/nonexistent/kvm',
    })
    expect(noKvm).toMatchObject({ ok: false, kvm: 'missing', supported: true })
    expect(noKvm.reason).toMatch(/\/dev\/kvm does not exist/)
  })

  it('reports /dev/kvm without read-write access', async () => {
    // Root may open anything, so this only means something for other users.
    if (process.getuid?.() === 0) return
    const kvm = await fakeKvm()
    await chmod(kvm, 0o400)
    const probe = await probeFirecracker({ binary: FAKE_FIRECRACKER_BIN, kvmDevice: kvm })
    expect(probe).toMatchObject({ ok: false, kvm: 'no-access' })
    expect(probe.hint).toMatch(/kvm group/)
  })

  it('refuses releases before 1.0 and binaries that are not Firecracker', async () => {
    const kvmDevice = await fakeKvm()
    const old = await probeFirecracker({
      binary: FAKE_FIRECRACKER_BIN,
      kvmDevice,
      env: { ...process.env, FAKE_FC_VERSION: '0.25.2' },
    })
    expect(old).toMatchObject({ ok: false, version: '0.25.2', supported: false })
    expect(old.reason).toMatch(/older than 1\.0/)

    const dir = await tempDir('sc-fc-probe-')
    const impostor = path.join(dir, 'firecracker')
    await writeFile(impostor, '#!/bin/sh\necho "hello from something else"\n')
    await chmod(impostor, 0o755)
    const wrong = await probeFirecracker({ binary: impostor, kvmDevice })
    expect(wrong).toMatchObject({ ok: false, versionOutput: 'hello from something else' })
    expect(wrong.version).toBeUndefined()

    const notExecutable = path.join(dir, 'plain')
    await writeFile(notExecutable, '')
    expect((await probeFirecracker({ binary: notExecutable, kvmDevice })).binary).toBeUndefined()
  })

  it('parses the version line of real releases', () => {
    expect(parseFirecrackerVersion('Firecracker v1.10.1\n\n')).toBe('1.10.1')
    expect(
      parseFirecrackerVersion(
        'Firecracker v1.4.1\n\nSupported snapshot data format versions: v1.0.0, v1.1.0\n',
      ),
    ).toBe('1.4.1')
    expect(parseFirecrackerVersion('Firecracker v1.17.0-dev\n')).toBe('1.17.0-dev')
    expect(parseFirecrackerVersion('Jailer v1.10.1')).toBeUndefined()
  })
})

describe('host stats from /proc', () => {
  it('parses utime + stime, even with a command name holding spaces and parentheses', () => {
    const fields = ['S', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '250', '50', '0', '0']
    expect(parseCpuSeconds(`1234 (fire cracker) ${fields.join(' ')}`)).toBe(3)
    expect(parseCpuSeconds(`1234 (a) b) ${fields.join(' ')}`)).toBe(3)
    expect(parseCpuSeconds('garbage')).toBe(0)
  })

  it('parses VmRSS', () => {
    expect(parseRssBytes('Name:\tx\nVmRSS:\t   2048 kB\nThreads: 3\n')).toBe(2048 * 1024)
    expect(parseRssBytes('Name:\tzombie\n')).toBe(0)
  })

  it('reads a live process, and says when it is gone', async () => {
    const stats = await readHostStats(process.pid)
    expect(stats.rssBytes).toBeGreaterThan(1024 * 1024)
    expect(stats.cpuSeconds).toBeGreaterThan(0)
    await expect(readHostStats(2 ** 22 + 1)).rejects.toMatchObject({ code: 'SANDBOX_GONE' })
  })
})
