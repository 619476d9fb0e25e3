import { configSchema } from '../../src/config/schema.js'
import type { MicrovmBackend } from '../../src/sandbox/microvm/backend.js'
import { createMicrovmBackend } from '../../src/sandbox/microvm/create.js'
import {
  defaultGuestImageCacheDir,
  guestImageStatus,
} from '../../src/sandbox/microvm/image/index.js'
import { QemuHypervisor } from '../../src/sandbox/microvm/qemu/index.js'

/**
 * The microVM tests need QEMU and a built guest image (`scripts/provision` builds it with
 * `safe-coder image build --vm`). They fail, never skip, when either is missing.
 */
export async function requireGuestImage(): Promise<void> {
  if ((await new QemuHypervisor().binary()) === undefined) {
    throw new Error(
      'qemu-system-x86_64 is missing: run `bash scripts/provision` (apt-get install qemu-system-x86).',
    )
  }
  const status = await guestImageStatus(defaultGuestImageCacheDir())
  if (status.images.length === 0) {
    throw new Error(
      `No microVM guest image in ${status.cacheDir}: run \`bash scripts/provision\` (it runs \`safe-coder image build --vm\`).`,
    )
  }
}

/**
 * A QEMU backend under TCG whose VMs keep their run directories under `stateHome`, using the
 * guest image from the default cache, with small (64 MiB) workspace drives.
 */
export function tcgBackend(
  stateHome: string,
  options: { bootTimeoutS?: number; diskMib?: number } = {},
): MicrovmBackend {
  const config = configSchema.parse({
    vm: {
      accel: 'tcg',
      vcpu_count: 2,
      mem_size_mib: 1024,
      disk_size_mib: options.diskMib ?? 64,
      boot_timeout_s: options.bootTimeoutS ?? 120,
      image_dir: defaultGuestImageCacheDir(),
    },
  })
  return createMicrovmBackend('qemu', config, { ...process.env, XDG_STATE_HOME: stateHome })
}
