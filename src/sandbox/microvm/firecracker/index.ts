export { FirecrackerHypervisor, FirecrackerVm, type FirecrackerOptions } from './hypervisor.js'
export {
  FirecrackerApi,
  faultMessage,
  waitForApi,
  type ApiResponse,
  type FirecrackerApiOptions,
  type HttpMethod,
} from './api-client.js'
export {
  BASE_BOOT_ARGS,
  GUEST_CID,
  MAX_VCPUS,
  ROOTFS_DRIVE_ID,
  WORKSPACE_DRIVE_ID,
  bootArgs,
  firecrackerConfig,
  firecrackerPaths,
  firecrackerRequests,
  sanitizeFirecrackerId,
  type FirecrackerPaths,
  type FirecrackerRequest,
} from './config.js'
export { connectVsock, type VsockConnectOptions } from './vsock.js'
export {
  findExecutable,
  parseFirecrackerVersion,
  probeFirecracker,
  type FirecrackerProbe,
  type FirecrackerProbeOptions,
} from './probe.js'
