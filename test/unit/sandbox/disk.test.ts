import { execFileSync } from 'node:child_process'
import { mkdir, stat, statfs, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  MIB,
  assertRoomFor,
  describeDiskFull,
  makeExt4,
  parseMountinfo,
  sandboxDiskFull,
} from '../../../src/sandbox/disk/index.js'
import { diskFullError } from '../../../src/sandbox/disk/disk-full.js'
import { dockerDiskLimits } from '../../../src/sandbox/docker/disk-limits.js'
import { buildContainerSpec } from '../../../src/sandbox/docker/container-spec.js'
import { rootLayerFor, isStorageOptRefusal } from '../../../src/sandbox/docker/root-layer.js'
import { SafeCoderError } from '../../../src/shared/errors.js'
import { tempDir, testBackendOptions } from '../../helpers/sandbox.js'

const spec = { sessionId: 's-1', mirrorDir: '/state/s-1/work', projectPath: '/p' }

describe('the container root layer', () => {
  it('is capped by storage-opt where the storage driver can, read-only elsewhere', () => {
    expect(rootLayerFor('overlay2', 'extfs')).toBe('read-only')
    expect(rootLayerFor('overlay2', 'xfs')).toBe('storage-opt')
    expect(rootLayerFor('btrfs', 'btrfs')).toBe('storage-opt')
    expect(rootLayerFor('zfs', undefined)).toBe('storage-opt')
    expect(rootLayerFor('fuse-overlayfs', 'xfs')).toBe('read-only')
    expect(rootLayerFor(undefined, undefined)).toBe('read-only')
  })

  it("recognises the engine's refusal of a size cap", () => {
    const refusal = Object.assign(new Error('(HTTP code 500) server error'), {
      json: {
        message: "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
      },
    })
    expect(isStorageOptRefusal(refusal)).toBe(true)
    expect(isStorageOptRefusal(new Error('no such image'))).toBe(false)
  })

  it('read-only: sized tmpfs on every path a program may write, no storage-opt', () => {
    const host = buildContainerSpec(spec, testBackendOptions({ tmpSizeMb: 32 }), {
      root: 'read-only',
    }).HostConfig
    expect(host?.ReadonlyRootfs).toBe(true)
    expect(host?.StorageOpt).toBeUndefined()
    expect(Object.keys(host?.Tmpfs ?? {}).sort()).toEqual(['/run/lock', '/tmp', '/var/tmp'])
    for (const options of Object.values(host?.Tmpfs ?? {}))
      expect(options).toBe('rw,nosuid,nodev,size=32m,mode=1777')
  })

  it('storage-opt: the writable layer capped at disk_mb, unless read_only_root', () => {
    const options = testBackendOptions({ diskMb: 300 })
    const capped = buildContainerSpec(spec, options, { root: 'storage-opt' }).HostConfig
    expect(capped?.ReadonlyRootfs).toBe(false)
    expect(capped?.StorageOpt).toEqual({ size: '300M' })
    expect(Object.keys(capped?.Tmpfs ?? {})).toEqual(['/tmp'])
    const readOnly = buildContainerSpec(
      spec,
      { ...options, readOnlyRoot: true },
      { root: 'storage-opt' },
    ).HostConfig
    expect(readOnly?.ReadonlyRootfs).toBe(true)
    expect(readOnly?.StorageOpt).toBeUndefined()
  })
})

describe('sandbox disks', () => {
  it('makes a sparse ext4 image of exactly the size', async () => {
    const dir = await tempDir()
    const image = path.join(dir, 'disk.ext4')
    await makeExt4(image, 64 * MIB, { label: 't', sizeKey: '[docker] disk_mb' })
    const info = await stat(image)
    expect(info.size).toBe(64 * MIB)
    expect(info.blocks * 512, 'sparse: nothing written up front').toBeLessThan(8 * MIB)
    const dump = execFileSync('dumpe2fs', ['-h', image], { stdio: ['ignore', 'pipe', 'ignore'] })
    expect(dump.toString()).toMatch(/Errors behavior:\s+Remount read-only/)
    expect(dump.toString()).toMatch(/Reserved block count:\s+0\n/)
    expect(dump.toString()).toMatch(/Inode count:\s+8192\n/)
  })

  it('says which key to raise when a tree does not fit (DISK_FULL, no image left behind)', async () => {
    const dir = await tempDir()
    const tree = path.join(dir, 'tree')
    await mkdir(tree)
    await writeFile(path.join(tree, 'big'), Buffer.alloc(80 * MIB, 1))
    const image = path.join(dir, 'drive.ext4')
    const error = await makeExt4(image, 64 * MIB, {
      label: 't',
      fromDir: tree,
      sizeKey: '[vm] disk_size_mib',
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).code).toBe('DISK_FULL')
    expect((error as SafeCoderError).message).toMatch(/does not fit in a 64\.0 MiB sandbox disk/)
    expect((error as SafeCoderError).hint).toMatch(/Raise \[vm\] disk_size_mib/)
    await expect(stat(image)).rejects.toThrow(/ENOENT/)
  })

  it('refuses a disk the host has no room to fill, naming the key', async () => {
    const dir = await tempDir()
    const fs = await statfs(dir)
    const tooBig = fs.bavail * fs.bsize + 1024 * MIB
    const error = await assertRoomFor(path.join(dir, 'disk'), tooBig, '[docker] disk_mb').catch(
      (e: unknown) => e,
    )
    expect((error as SafeCoderError).code).toBe('DISK_FULL')
    expect((error as SafeCoderError).message).toMatch(/the host has .* free there/)
    expect((error as SafeCoderError).hint).toMatch(/lower \[docker\] disk_mb/)
    await expect(assertRoomFor(path.join(dir, 'disk'), MIB, 'k')).resolves.toBeUndefined()
  })

  it('reads mount points as the kernel escapes them', () => {
    const entries = parseMountinfo(
      [
        '36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - ext4 /dev/loop3 rw,errors=remount-ro',
        '40 36 0:44 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,size=1024k',
        'garbage',
      ].join('\n'),
    )
    expect(entries).toEqual([
      {
        mountPoint: '/mnt/a b',
        fsType: 'ext4',
        source: '/dev/loop3',
        options: ['rw', 'noatime'],
      },
      { mountPoint: '/tmp', fsType: 'tmpfs', source: 'tmpfs', options: ['rw', 'nosuid', 'nodev'] },
    ])
  })
})

describe('DISK_FULL in the sandbox', () => {
  const options = testBackendOptions({ diskMb: 64, tmpSizeMb: 16 })
  const enforced = () => dockerDiskLimits(options, 'read-only', { mib: 64 })

  it("blames the sandbox's own disk where the limit holds, for the model to act on", async () => {
    const full = diskFullError('Cannot write "big" in the sandbox', 'ENOSPC', { path: 'big' })
    const error = sandboxDiskFull(full, await enforced()) as SafeCoderError
    expect(error.code).toBe('DISK_FULL')
    expect(error.message).toMatch(/own disk is full: \/workspace is a 64 MiB ext4 disk/)
    expect(error.hint).toMatch(/raise \[docker\] disk_mb \(now 64 MiB\)/)
    expect(error.data).toMatchObject({ inSandbox: true, path: 'big', errno: 'ENOSPC' })
  })

  it("blames the host's disk where nothing bounds the workspace", async () => {
    const unbounded = await dockerDiskLimits(options, 'read-only', { mib: undefined })
    const full = diskFullError('Cannot write "big" in the sandbox', 'ENOSPC', {})
    expect(sandboxDiskFull(full, unbounded)).toBe(full)
    expect(full.hint).toMatch(/state directory/)
    expect(describeDiskFull(unbounded)).toMatch(/plain host directory.*df -h/)
  })

  it('names every limit a command may have met', async () => {
    expect(describeDiskFull(await enforced())).toBe(
      "the command ran out of space in the sandbox (No space left on device): /workspace is a 64 MiB ext4 disk (loop-mounted as the mirror); the root is read-only; /tmp, /var/tmp, /run/lock are tmpfs of 16 MiB each (memory, within 256 MiB). Delete files there, or raise [docker] disk_mb (the host's disk is not affected)",
    )
  })
})
