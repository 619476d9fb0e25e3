import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  downloadKernelPackage,
  resolveKernelPackage,
} from '../../../../src/sandbox/microvm/image/kernel.js'

/** Shared with test/integration/microvm-qemu.test.ts, so the package is downloaded once. */
export const TEST_VM_CACHE = path.join(os.tmpdir(), 'safe-coder-test', 'vm')

export interface KernelFixture {
  deb: string
  vmlinuz: string
  moduleRoot: string
  release: string
}

/**
 * A real distribution kernel for the tests: the package apt resolves (downloaded once into the
 * test cache), with its vmlinuz and the module directories the guest needs unpacked. Undefined
 * when this host has no apt or no dpkg-deb.
 */
export async function realKernel(): Promise<KernelFixture | undefined> {
  if (spawnSync('apt-cache', ['--version']).status !== 0) return undefined
  if (spawnSync('dpkg-deb', ['--version']).status !== 0) return undefined
  const pkg = await resolveKernelPackage().catch(() => undefined)
  if (pkg === undefined) return undefined
  const deb = await downloadKernelPackage(pkg, path.join(TEST_VM_CACHE, 'debs')).catch(
    () => undefined,
  )
  if (deb === undefined) return undefined
  const root = path.join(TEST_VM_CACHE, 'unpacked', path.basename(deb, '.deb'))
  if (!existsSync(path.join(root, '.done'))) {
    const temp = `${root}.${process.pid}`
    await rm(temp, { recursive: true, force: true })
    await mkdir(temp, { recursive: true })
    // Only the kernel and the module directories the guest modules live in.
    execFileSync(
      'sh',
      [
        '-c',
        `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinuz-*' './lib/modules/*/modules.builtin' './lib/modules/*/kernel/fs/*' './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/*' './lib/modules/*/kernel/drivers/char/*' './lib/modules/*/kernel/net/vmw_vsock/*' './lib/modules/*/kernel/crypto/*' './lib/modules/*/kernel/lib/*'`,
        'sh',
        deb,
        temp,
      ],
      { stdio: 'ignore' },
    )
    execFileSync('touch', [path.join(temp, '.done')])
    await rm(root, { recursive: true, force: true })
    await rename(temp, root)
  }
  const release = (await readdir(path.join(root, 'lib/modules')))[0]
  if (release === undefined) return undefined
  return {
    deb,
    vmlinuz: path.join(root, 'boot', `vmlinuz-${release}`),
    moduleRoot: path.join(root, 'lib/modules', release),
    release,
  }
}
