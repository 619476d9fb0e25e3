import { lstat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { createTestSandbox, tempDir } from '../helpers/sandbox.js'

describe('docker sandbox isolation', () => {
  it('has no network route out: only the loopback interface exists', async () => {
    const { sandbox } = await createTestSandbox()
    const ifaces = await sandbox.exec({
      command: "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
    })
    expect(ifaces.stdout.trim().split('\n')).toEqual(['lo'])
    const route = await sandbox.exec({ command: 'cat /proc/net/route | tail -n +2' })
    expect(route.stdout.trim()).toBe('')
    for (const target of ['172.17.0.1 80', '8.8.8.8 53', '1.1.1.1 443']) {
      const nc = await sandbox.exec({
        command: `nc -w 2 ${target} </dev/null 2>&1; echo "exit=$?"`,
      })
      expect(nc.stdout).toMatch(/Network is unreachable/)
      expect(nc.stdout).toMatch(/exit=1/)
    }
    const dns = await sandbox.exec({ command: 'nslookup example.com 2>&1' })
    expect(dns.exitCode).not.toBe(0)
  })

  it('runs as the host user, so files it creates in /workspace belong to them', async () => {
    const { sandbox, mirror } = await createTestSandbox()
    const id = await sandbox.exec({ command: 'id -u; id -g' })
    expect(id.stdout.trim().split('\n')).toEqual([
      String(process.getuid?.()),
      String(process.getgid?.()),
    ])
    await sandbox.exec({ command: 'echo made-inside > made.txt' })
    const info = await lstat(path.join(mirror, 'made.txt'))
    expect(info.uid).toBe(process.getuid?.())
    expect(info.gid).toBe(process.getgid?.())
  })

  it('maps a non-root user onto the mirror with that uid:gid', async () => {
    const { sandbox, mirror } = await createTestSandbox({
      spec: { user: { uid: 1234, gid: 2345 } },
    })
    await sandbox.writeFile('by-1234.txt', 'x')
    await sandbox.exec({ command: 'mkdir d && touch d/f' })
    for (const name of ['by-1234.txt', 'd', 'd/f']) {
      const info = await lstat(path.join(mirror, name))
      expect([info.uid, info.gid]).toEqual([1234, 2345])
    }
  })

  it('drops every capability and sets no-new-privileges', async () => {
    const { sandbox } = await createTestSandbox()
    const status = await sandbox.exec({
      command: 'grep -E "^(CapEff|CapBnd|CapPrm|NoNewPrivs)" /proc/self/status',
    })
    expect(status.stdout).toMatch(/CapEff:\s+0000000000000000/)
    expect(status.stdout).toMatch(/CapBnd:\s+0000000000000000/)
    expect(status.stdout).toMatch(/NoNewPrivs:\s+1/)
    const mknod = await sandbox.exec({ command: 'mknod /tmp/dev c 1 3' })
    expect(mknod.exitCode).not.toBe(0)
  })

  it('shows nothing of the host but the mirror, and mounts no Docker socket', async () => {
    const outside = await tempDir('safe-coder-canary-')
    await writeFile(path.join(outside, 'canary-7f3a.txt'), 'host secret')
    const { sandbox, mirror } = await createTestSandbox()
    await writeFile(path.join(mirror, 'inside.txt'), 'visible')
    const find = await sandbox.exec({
      command: 'find / -xdev -name "canary-7f3a.txt" 2>/dev/null; ls /workspace',
    })
    expect(find.stdout.trim()).toBe('inside.txt')
    const mounts = await sandbox.exec({ command: 'cat /proc/self/mountinfo' })
    const binds = mounts.stdout.split('\n').filter((l) => / \/workspace /.test(l))
    expect(binds).toHaveLength(1)
    expect(mounts.stdout).not.toMatch(/docker\.sock/)
    const sock = await sandbox.exec({ command: 'ls /var/run/docker.sock /run/docker.sock' })
    expect(sock.exitCode).not.toBe(0)
  })
})

describe('docker sandbox options', () => {
  it('with read_only_root, only /workspace and the sized tmpfs mounts are writable', async () => {
    const { sandbox } = await createTestSandbox({ backend: { readOnlyRoot: true } })
    const root = await sandbox.exec({ command: 'touch /etc/evil 2>&1' })
    expect(root.exitCode).not.toBe(0)
    expect(root.stdout).toMatch(/Read-only file system/)
    const ok = await sandbox.exec({
      command: 'touch /workspace/ok /tmp/ok /var/tmp/ok /run/lock/ok && echo fine',
    })
    expect(ok.stdout).toBe('fine\n')
  })

  it("a read-only root leaves no directory of Safe Coder's image writable outside the limits", async () => {
    // Every directory the image lets an ordinary user write must be /workspace or a sized
    // tmpfs (docs/sandboxing.md#disk-limits); a new one in the image would escape the limit.
    const { sandbox } = await createTestSandbox({
      backend: { image: SANDBOX_IMAGE, readOnlyRoot: true, memoryMb: 384 },
      spec: { user: { uid: 4321, gid: 4321 } },
    })
    const writable = await sandbox.exec({
      command:
        'find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type d -writable -print 2>/dev/null',
    })
    expect(writable.stdout.trim().split('\n').sort()).toEqual([
      '/run/lock',
      '/tmp',
      '/var/tmp',
      '/workspace',
    ])
  })
})
