/** QEMU `-M microvm` driver. */
export { QEMU_BOOT_ARGS, QEMU_FILES, qemuArgs, qemuBootArgs, qemuPaths } from './argv.js'
export type { QemuPaths } from './argv.js'
export {
  DEFAULT_QEMU_BINARY,
  QemuHypervisor,
  QemuVm,
  connectUnix,
  readVmInfo,
} from './hypervisor.js'
export type { QemuHypervisorOptions, QemuVmInfo } from './hypervisor.js'
export { probeBoot } from './probe-boot.js'
export type { ProbeBootOptions, ProbeBootResult } from './probe-boot.js'
export { QmpClient, QmpError } from './qmp.js'
