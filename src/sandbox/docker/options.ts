/** What the Docker-API backend needs from configuration ([docker] section). */
export interface DockerBackendOptions {
  kind: 'docker' | 'podman'
  image: string
  cpus: number
  memoryMb: number
  pidsLimit: number
  tmpSizeMb: number
  readOnlyRoot: boolean
  autoPull: boolean
  runtime?: string | undefined
  socket?: string | undefined
  env?: NodeJS.ProcessEnv
}
