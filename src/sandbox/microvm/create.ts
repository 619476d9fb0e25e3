import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Config } from '../../config/schema.js'
import { stateDir } from '../../shared/state-dir.js'
import { SafeCoderError } from '../../shared/errors.js'
import { MicrovmBackend, type GuestImageSource } from './backend.js'
import { FirecrackerHypervisor } from './firecracker/index.js'
import { createWorkspaceDrive, defaultGuestImageCacheDir, guestImageStatus } from './image/index.js'
import { probeBoot } from './qemu/index.js'
import { QemuHypervisor } from './qemu/index.js'
import { testBoot } from './test-boot.js'
import type { GuestImage, Hypervisor } from './types.js'

/** The key that sizes a microVM's workspace drive, for messages. */
export const VM_DISK_KEY = '[vm] disk_size_mib'

/** The microVM backend of one kind, configured from the [vm] section. */
export function createMicrovmBackend(
  kind: 'qemu' | 'firecracker',
  config: Config,
  env: NodeJS.ProcessEnv,
): MicrovmBackend {
  const vm = config.vm
  const hypervisor: Hypervisor =
    kind === 'qemu'
      ? new QemuHypervisor({ binary: vm.qemu_bin })
      : new FirecrackerHypervisor(vm.firecracker_bin, { env })
  const cacheDir = vm.image_dir ?? defaultGuestImageCacheDir(env)
  const runRoot = path.join(stateDir(env), 'vms')
  const images: GuestImageSource = {
    find: async () => {
      // An override names a file the user chose: one that is not there is said as such.
      for (const [key, file] of [
        ['kernel_image', vm.kernel_image],
        ['rootfs_image', vm.rootfs_image],
      ] as const) {
        if (file !== undefined && !existsSync(file)) {
          throw new SafeCoderError(
            'IMAGE_MISSING',
            `The guest image file ${file} (from [vm] ${key}) does not exist.`,
            {
              hint: `Point [vm] ${key} at an existing file, or remove it to use the image built by safe-coder image build --vm.`,
            },
          )
        }
      }
      const newest = (await guestImageStatus(cacheDir)).images[0]
      if (newest === undefined) return undefined
      const image: GuestImage = {
        dir: newest.dir,
        kernel: vm.kernel_image ?? newest.kernel,
        initrd: newest.initrd,
        rootfs: vm.rootfs_image ?? newest.rootfs,
        kernelRelease: newest.kernelRelease,
        inputs: newest.inputs,
      }
      return image
    },
    hint: 'Build it (as root, offline): safe-coder image build --vm. It needs the sandbox image (safe-coder image build), e2fsprogs and busybox-static.',
    createDrive: async (mirrorDir, drivePath) => {
      await createWorkspaceDrive(mirrorDir, drivePath, {
        sizeMib: vm.disk_size_mib,
        sizeKey: VM_DISK_KEY,
      })
    },
    probeBoot: async (image, accel, timeoutMs) => {
      if (hypervisor instanceof QemuHypervisor) {
        const probe = await probeBoot({
          image,
          accel,
          timeoutMs,
          hypervisor,
          workDir: path.join(runRoot, '.probe'),
        })
        return {
          ok: probe.ok,
          accel,
          ms: probe.ms,
          ...(probe.reason === undefined ? {} : { reason: probe.reason }),
        }
      }
      return testBoot({
        hypervisor,
        image,
        accel,
        timeoutMs,
        workDir: path.join(runRoot, '.probe'),
      })
    },
  }
  return new MicrovmBackend({
    hypervisor,
    images,
    accel: vm.accel,
    vcpus: vm.vcpu_count,
    memMib: vm.mem_size_mib,
    disk: { mib: vm.disk_size_mib, key: VM_DISK_KEY },
    bootTimeoutMs: vm.boot_timeout_s * 1000,
    probeTimeoutMs: vm.probe_timeout_s * 1000,
    runRoot,
    probeCache: path.join(runRoot, `.accel-${kind}.json`),
  })
}
