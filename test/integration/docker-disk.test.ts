import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  attachWorkspaceDisk,
  createWorkspaceDisk,
  detachWorkspaceDisk,
  mountAt,
  mountsUnder,
} from '../../src/sandbox/disk/index.js'
import { DockerBackend } from '../../src/sandbox/docker/backend.js'
import { rootLayerFor } from '../../src/sandbox/docker/root-layer.js'
import type { Sandbox } from '../../src/sandbox/types.js'
import { SessionStore } from '../../src/session/store.js'
import {
  auditRepo,
  createWorkspaceSession,
  discardSession,
  execInSession,
} from '../../src/session/workspace-session.js'
import { SafeCoderError } from '../../src/shared/errors.js'
import { readLog } from '../../src/git/index.js'
import {
  createTestSandbox,
  sandboxVariants,
  tempDir,
  testBackendOptions,
} from '../helpers/sandbox.js'

/**
 * A disk limit on every Docker sandbox (docs/sandboxing.md#disk-limits): a write beyond
 * `[docker] disk_mb` fails inside with ENOSPC, into /workspace, the root and /tmp alike; the
 * host never holds more than the disk; the sandbox works again once the file is gone.
 */

const MIB = 1024 * 1024
const DISK_MB = 64
const limits = { diskMb: DISK_MB, tmpSizeMb: 16 }
const tracking = { maxFileBytes: 10 * MIB, exclude: [] }

/** The disks are loop mounts: only root makes them. The tests say so rather than pass idle. */
function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new Error('The disk-limit tests mount loop devices: run them as root (CI does).')
}

/** Host bytes a file really takes (a sparse image takes what was written into it). */
async function allocated(file: string): Promise<number> {
  return (await stat(file)).blocks * 512
}

/** A command that writes `mib` MiB of zeros to `file`, printing dd's complaint on stderr. */
function fill(file: string, mib: number): string {
  return `dd if=/dev/zero of=${file} bs=1M count=${mib} 2>&1 >/dev/null | grep -v records >&2`
}

async function expectNoSpace(sandbox: Sandbox, file: string, mib: number): Promise<void> {
  const result = await sandbox.exec({ command: fill(file, mib) })
  expect(result.stderr, `writing ${mib} MiB to ${file}`).toMatch(/No space left on device/)
}

describe('docker sandbox disk limits', () => {
  it.each(sandboxVariants)(
    '$name: /workspace, /tmp and the root stop at their limits with ENOSPC; the host holds no more; it recovers',
    async (variant) => {
      requireRoot()
      const dir = await tempDir('safe-coder-disk-')
      const disk = { image: path.join(dir, 'workspace.ext4'), mountPoint: path.join(dir, 'work') }
      await createWorkspaceDisk(
        disk,
        { sizeMib: DISK_MB, key: '[docker] disk_mb' },
        { uid: 0, gid: 0 },
      )
      const { sandbox, backend } = await createTestSandbox({
        backend: { ...variant.backend, ...limits, memoryMb: 256 + variant.memoryFloorMb },
        spec: { mirrorDir: disk.mountPoint },
      })
      expect(sandbox.disk?.workspace.enforced).toBe(true)

      await expectNoSpace(sandbox, '/workspace/big', 100)
      expect(
        await allocated(disk.image),
        'the image never grows past its size',
      ).toBeLessThanOrEqual(DISK_MB * MIB)
      // A file tool meets the same limit, and says whose disk is full.
      const write = await sandbox
        .writeFile('more.bin', Buffer.alloc(8 * MIB, 7))
        .catch((e: unknown) => e)
      expect(write).toBeInstanceOf(SafeCoderError)
      expect((write as SafeCoderError).code).toBe('DISK_FULL')
      expect((write as SafeCoderError).message).toMatch(/own disk is full/)
      expect((write as SafeCoderError).data?.inSandbox).toBe(true)
      expect((write as SafeCoderError).hint).toMatch(/\[docker\] disk_mb/)

      await expectNoSpace(sandbox, '/tmp/big', 32)
      const probe = await backend.probe()
      const root = rootLayerFor(
        probe.details.storageDriver as string | undefined,
        probe.details.backingFilesystem as string | undefined,
      )
      if (root === 'read-only') {
        const etc = await sandbox.exec({ command: 'touch /etc/evil 2>&1' })
        expect(etc.stdout).toMatch(/Read-only file system/)
        await expectNoSpace(sandbox, '/var/tmp/big', 32)
      } else {
        await expectNoSpace(sandbox, '/big', DISK_MB + 36)
      }

      // Deleting the file is enough: the sandbox writes again, and the host mirror sees it.
      const again = await sandbox.exec({
        command: 'rm -f /workspace/big /tmp/big /var/tmp/big /big; echo fine > /workspace/after',
      })
      expect(again.exitCode, again.stderr).toBe(0)
      await sandbox.writeFile('more.bin', Buffer.alloc(8 * MIB, 7))
      expect(await readFile(path.join(disk.mountPoint, 'after'), 'utf8')).toBe('fine\n')
      expect((await stat(path.join(disk.mountPoint, 'more.bin'))).size).toBe(8 * MIB)
    },
  )

  it('an engine that refuses the size cap it seemed to offer gets a read-only root instead', async () => {
    // This daemon runs overlay2 on ext4; a backend told it is xfs asks for storage-opt size, is
    // refused by the real engine, and must still give a working, bounded sandbox.
    class XfsClaimingBackend extends DockerBackend {
      protected override storage() {
        return Promise.resolve({ driver: 'overlay2', backingFs: 'xfs' })
      }
    }
    const probe = await new DockerBackend(testBackendOptions()).probe()
    expect(
      rootLayerFor(
        probe.details.storageDriver as string,
        probe.details.backingFilesystem as string,
      ),
    ).toBe('read-only')
    const backend = new XfsClaimingBackend(testBackendOptions(limits))
    for (let i = 0; i < 2; i++) {
      const mirror = await tempDir('safe-coder-mirror-')
      const sandbox = await backend.create({
        sessionId: `disk-${i}`,
        mirrorDir: mirror,
        projectPath: mirror,
      })
      try {
        expect(sandbox.disk?.root.how).toMatch(/the root is read-only/)
        const etc = await sandbox.exec({
          command: 'touch /etc/evil 2>&1; echo ok > /tmp/ok && cat /tmp/ok',
        })
        expect(etc.stdout).toMatch(/Read-only file system\nok\n$/)
      } finally {
        await sandbox.dispose()
      }
    }
  })

  it('three openers of a session at once all get its mirror, mounted once; detach takes it away', async () => {
    requireRoot()
    const dir = await tempDir('safe-coder-disk-')
    const disk = { image: path.join(dir, 'workspace.ext4'), mountPoint: path.join(dir, 'work') }
    await createWorkspaceDisk(disk, { sizeMib: DISK_MB, key: 'k' }, { uid: 0, gid: 0 })
    await detachWorkspaceDisk(disk.mountPoint)
    const opened = await Promise.allSettled([1, 2, 3].map(() => attachWorkspaceDisk(disk, 'k')))
    expect(opened.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled'])
    expect((await mountsUnder(dir)).length).toBe(1)
    await detachWorkspaceDisk(disk.mountPoint)
    expect(await mountsUnder(dir)).toEqual([])
  })

  it('a project larger than the disk stops copy-in with DISK_FULL naming the key, leaving nothing', async () => {
    requireRoot()
    const project = await tempDir('safe-coder-project-')
    await writeFile(path.join(project, 'big.bin'), Buffer.alloc(80 * MIB))
    const state = await tempDir('safe-coder-state-')
    const store = new SessionStore(state)
    const backend = new DockerBackend(testBackendOptions(limits))
    const error = await createWorkspaceSession({
      store,
      projectDir: project,
      backend,
      tracking: { ...tracking, maxFileBytes: 100 * MIB },
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).code).toBe('DISK_FULL')
    expect((error as SafeCoderError).message).toMatch(
      /does not fit in the session's 64 MiB disk \(\[docker\] disk_mb\)/,
    )
    expect((error as SafeCoderError).hint).toMatch(/Raise \[docker\] disk_mb/)
    expect(await mountsUnder(state)).toEqual([])
    expect((await store.list()).sessions).toEqual([])
  })

  it('a session keeps its mirror on its disk: bounded, remounted after a reboot, freed by discard', async () => {
    requireRoot()
    const project = await tempDir('safe-coder-project-')
    await writeFile(path.join(project, 'hello.txt'), 'hello\n')
    const state = await tempDir('safe-coder-state-')
    const store = new SessionStore(state)
    const backend = new DockerBackend(testBackendOptions(limits))
    const { record } = await createWorkspaceSession({
      store,
      projectDir: project,
      backend,
      tracking,
    })
    const paths = store.paths(record.id)
    expect((await mountAt(paths.work))?.fsType, 'the mirror is the disk').toBe('ext4')

    const filled = await execInSession({
      store,
      id: record.id,
      backend,
      command: ['sh', '-c', `${fill('/workspace/big', 100)}; exit 1`],
      tracking,
    })
    expect(filled.result.stderr).toMatch(/No space left on device/)
    expect(filled.diskFull).toMatch(/ran out of space in the sandbox.*\[docker\] disk_mb/)
    expect(await allocated(paths.disk)).toBeLessThanOrEqual(DISK_MB * MIB)

    const recovered = await execInSession({
      store,
      id: record.id,
      backend,
      command: ['sh', '-c', 'rm big && echo after > after.txt'],
      tracking,
    })
    expect(recovered.result.exitCode, recovered.result.stderr).toBe(0)
    expect(recovered.diskFull).toBeUndefined()

    // A reboot takes the mount away; the next reader mounts the disk again before looking.
    await detachWorkspaceDisk(paths.work)
    expect(await mountAt(paths.work)).toBeUndefined()
    const repo = await auditRepo(store, record.id, tracking.maxFileBytes)
    expect(await readFile(path.join(paths.work, 'after.txt'), 'utf8')).toBe('after\n')
    const log = await readLog(repo)
    expect(log.flatMap((c) => c.files.map((f) => f.path))).toContain('after.txt')

    await discardSession(store, record.id)
    expect(await mountAt(paths.work)).toBeUndefined()
    expect(existsSync(paths.dir)).toBe(false)
  })
})
