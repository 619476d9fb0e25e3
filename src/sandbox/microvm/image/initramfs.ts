import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { SafeCoderError } from '../../../shared/errors.js'
import { elfLinkage } from '../../docker/image-elf.js'
import { CpioBuilder } from './cpio.js'
import { stage1Script } from './init-scripts.js'
import { readModuleFile, type KernelModule } from './modules.js'

/** Debian's busybox-static installs here; the dynamic `busybox` package would not run in it. */
export const DEFAULT_BUSYBOX = '/bin/busybox'
const busyboxHint = 'Install a static busybox: apt-get install busybox-static'

/** A static busybox's bytes and applet names; IMAGE_BUILD_FAILED if missing or dynamic. */
export async function readStaticBusybox(
  file: string,
): Promise<{ binary: Buffer; applets: string[] }> {
  let binary: Buffer
  try {
    binary = await readFile(file)
  } catch (error) {
    throw new SafeCoderError('IMAGE_BUILD_FAILED', `${file} (busybox) is missing.`, {
      hint: busyboxHint,
      cause: error,
      data: { path: file },
    })
  }
  const linkage = elfLinkage(binary)
  if (linkage.kind !== 'static') {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `${file} is ${linkage.kind === 'dynamic' ? 'dynamically linked' : 'not an ELF binary'}; the initramfs has no libc.`,
      { hint: busyboxHint, data: { path: file } },
    )
  }
  const { stdout } = await execa(file, ['--list'], { stdin: 'ignore', reject: false })
  const applets = stdout
    .split('\n')
    .map((name) => name.trim())
    .filter((name) => /^[\w.[-]+$/.test(name) && name !== 'busybox')
  for (const needed of ['sh', 'mount', 'insmod', 'switch_root', 'ip', 'reboot', 'hostname']) {
    if (!applets.includes(needed)) {
      throw new SafeCoderError(
        'IMAGE_BUILD_FAILED',
        `${file} has no "${needed}" applet, which the guest's boot needs.`,
        { hint: busyboxHint },
      )
    }
  }
  return { binary, applets }
}

/**
 * The initramfs: a static busybox with an applet symlink per command in /bin, the kernel
 * modules under /lib/modules, /dev/console (so /init has a console before devtmpfs is
 * mounted) and the stage-1 `/init`. Plain cpio by default: under software emulation the kernel
 * unpacks it faster than it would gunzip it, and the file is only a few megabytes.
 */
export async function buildInitramfs(options: {
  busybox: { binary: Buffer; applets: string[] }
  modules: readonly KernelModule[]
  gzip?: boolean
  signal?: AbortSignal
}): Promise<{ bytes: Buffer; init: string }> {
  const cpio = new CpioBuilder()
  for (const dir of ['dev', 'proc', 'sys', 'run', 'newroot', 'root', 'tmp', 'lib/modules'])
    cpio.dir(dir)
  cpio.add({ kind: 'char', path: 'dev/console', major: 5, minor: 1, mode: 0o600 })
  cpio.add({ kind: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 })
  cpio.file('bin/busybox', options.busybox.binary, 0o755)
  for (const applet of options.busybox.applets) {
    if (!cpio.has(`bin/${applet}`)) cpio.symlink(`bin/${applet}`, 'busybox')
  }
  cpio.symlink('sbin', 'bin')
  const names: string[] = []
  for (const mod of options.modules) {
    const name = `${mod.name}.ko`
    cpio.file(path.posix.join('lib/modules', name), await readModuleFile(mod.file, options.signal))
    names.push(name)
  }
  const init = stage1Script(names)
  cpio.file('init', init, 0o755)
  return { bytes: cpio.build({ gzip: options.gzip === true }), init }
}
