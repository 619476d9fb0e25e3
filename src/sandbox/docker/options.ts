/** The key that sizes a container's disks, for messages. */
export const DOCKER_DISK_KEY = '[docker] disk_mb'

/** What the Docker-API backend needs from configuration ([docker] section). */
export interface DockerBackendOptions {
  kind: 'docker' | 'podman'
  image: string
  cpus: number
  memoryMb: number
  pidsLimit: number
  tmpSizeMb: number
  /** The workspace disk and the writable layer, each at most this large (`[docker] disk_mb`). */
  diskMb: number
  readOnlyRoot: boolean
  autoPull: boolean
  runtime?: string | undefined
  socket?: string | undefined
  /** `auto`: run the in-container agent in Safe Coder's own image; `off`: Engine-API exec only. */
  agent?: 'auto' | 'off'
  env?: NodeJS.ProcessEnv
}
