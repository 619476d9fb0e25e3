import { describe, expect, it } from 'vitest'
import { findEngineEndpoints } from '../../../src/sandbox/docker/connect.js'

describe('findEngineEndpoints', () => {
  it('uses only the endpoint the user named: [docker] socket, else DOCKER_HOST', () => {
    expect(findEngineEndpoints('docker', { env: { DOCKER_HOST: 'tcp://10.0.0.1:2375' } })).toEqual([
      { url: 'tcp://10.0.0.1:2375', source: 'DOCKER_HOST', kind: 'docker' },
    ])
    expect(
      findEngineEndpoints('docker', { socket: '/run/x.sock', env: { DOCKER_HOST: 'tcp://h:1' } }),
    ).toEqual([{ url: 'unix:///run/x.sock', source: '[docker] socket', kind: 'docker' }])
    expect(findEngineEndpoints('podman', { env: { CONTAINER_HOST: 'unix:///p.sock' } })).toEqual([
      { url: 'unix:///p.sock', source: 'CONTAINER_HOST', kind: 'podman' },
    ])
  })

  it('otherwise lists only standard sockets that exist', () => {
    const found = findEngineEndpoints('podman', {
      env: { XDG_RUNTIME_DIR: '/nonexistent-runtime-dir' },
    })
    expect(found.every((e) => e.url !== 'unix:///nonexistent-runtime-dir/podman/podman.sock')).toBe(
      true,
    )
  })
})
