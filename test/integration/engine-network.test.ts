import type Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writePolicyFile } from '../../bench/network.js'
import type { NetworkPolicy, ProxyEvent } from '../../src/network/types.js'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { networkNames } from '../../src/sandbox/docker/network.js'
import { proveNetworkWall } from '../../src/sandbox/docker/network-proof.js'
import { locateProxy } from '../../src/sandbox/docker/proxy-assets.js'
import { ensureProxyImage } from '../../src/sandbox/docker/proxy-image.js'
import type { SandboxSpec } from '../../src/sandbox/types.js'
import { createId } from '../../src/shared/ids.js'
import { requireEngine } from '../helpers/docker.js'
import { createTestSandbox, tempDir, testBackendOptions } from '../helpers/sandbox.js'
import { DockerBackend } from '../../src/sandbox/docker/backend.js'
import { failure } from '../helpers/failure.js'
import { sessionLeftovers } from '../helpers/docker.js'

/**
 * What every Docker-API engine must do with a session's network, run against Docker and Podman
 * alike (lean: busybox sandboxes, one of each kind per engine). docker-network.test.ts covers
 * Docker's allow-list in depth; here each engine either enforces it or refuses it.
 */

const TEST_LABEL = 'safe-coder-test=engine-network'

async function networkSpec(
  policy: NetworkPolicy,
  events: ProxyEvent[] = [],
): Promise<Pick<SandboxSpec, 'sessionId' | 'network'>> {
  const dir = await tempDir('safe-coder-engine-net-')
  return {
    sessionId: createId('enet'),
    network: {
      policy,
      policyFile: await writePolicyFile(dir, policy),
      onEvent: (e) => events.push(e),
    },
  }
}

describe.each(['docker', 'podman'] as const)('%s: a session network', (kind) => {
  let docker: Docker
  const made: string[] = []

  beforeAll(async () => {
    docker = await requireEngine(kind)
  })

  afterAll(async () => {
    for (const name of made)
      await docker
        .getNetwork(name)
        .remove()
        .catch(() => undefined)
  })

  it('none: no interface but lo, no proxy variables', async () => {
    const { sandbox } = await createTestSandbox({ backend: { kind, image: BUSYBOX_IMAGE } })
    const r = await sandbox.exec({
      command: "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; env",
    })
    expect(r.stdout.split('\n')[0]).toBe('lo')
    expect(r.stdout).not.toMatch(/_proxy=/i)
    expect(r.stdout.split('\n')).not.toContain('eth0')
  })

  it('open: a bridge network of its own, removed with the sandbox', async () => {
    const spec = await networkSpec({ mode: 'open', allow: [], deny: [] })
    const { sandbox } = await createTestSandbox({ backend: { kind, image: BUSYBOX_IMAGE }, spec })
    const net = await docker.getNetwork(networkNames(spec.sessionId).open).inspect()
    expect(net.Internal).toBe(false)
    const r = await sandbox.exec({ command: "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '" })
    expect(r.stdout.trim().split('\n').sort()).toEqual(['eth0', 'lo'])
    await sandbox.dispose()
    expect(await sessionLeftovers(docker, spec.sessionId)).toEqual([])
  })

  it('the network proof finds a host that answers: a plain bridge reaches its gateway', async () => {
    const name = `safe-coder-test-bridge-${createId('n')}`
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      Labels: { 'safe-coder-test': 'engine-network' },
    })
    made.push(name)
    const error = await failure(
      proveNetworkWall(docker, {
        name: `${name}-proof`,
        image: await ensureProxyImage(docker),
        labels: { 'safe-coder-test': 'engine-network' },
        assets: await locateProxy(),
        network: name,
        kind,
      }),
    )
    const gateway = (await docker.getNetwork(name).inspect()).IPAM?.Config?.[0]?.Gateway ?? '?'
    expect(error.code).toBe('BACKEND_UNAVAILABLE')
    expect(error.message).toContain(`${gateway} (gateway`)
    expect(error.message).toMatch(/answered on port 9 \(connection refused: a host is there\)/)
    const stale = await docker.listContainers({ all: true, filters: { label: [TEST_LABEL] } })
    expect(stale.map((c) => c.Names)).toEqual([])
  })

  if (kind === 'docker') {
    it('allowlist: proved, then the proxy by name from any image (busybox), nothing else', async () => {
      const events: ProxyEvent[] = []
      const spec = await networkSpec({ mode: 'allowlist', allow: [], deny: [] }, events)
      const { sandbox } = await createTestSandbox({ backend: { kind, image: BUSYBOX_IMAGE }, spec })
      const r = await sandbox.exec({
        command:
          'grep -w egress /etc/hosts; cat /proc/sys/net/ipv6/conf/all/disable_ipv6; wget -q -O - http://blocked.example/',
      })
      expect(r.stdout).toMatch(/^\S+\s+egress\n1\n/)
      expect(r.stderr).toMatch(/403/)
      await sandbox.dispose()
      expect(await sessionLeftovers(docker, spec.sessionId)).toEqual([])
    })
  } else {
    it('allowlist: refused, because its internal network reaches the host; nothing left', async () => {
      const spec = await networkSpec({ mode: 'allowlist', allow: [], deny: [] })
      const mirror = await tempDir('safe-coder-mirror-')
      const backend = new DockerBackend(testBackendOptions({ kind, image: BUSYBOX_IMAGE }))
      const error = await failure(
        backend.create({ ...spec, mirrorDir: mirror, projectPath: mirror }),
      )
      expect(error.code).toBe('BACKEND_UNAVAILABLE')
      expect(error.message).toMatch(
        /^Podman cannot enforce this session's allow-list: inside its internal network \S+ \(gateway[^)]*\) answered on port 9/,
      )
      expect(error.hint).toMatch(/--backend docker/)
      expect(await sessionLeftovers(docker, spec.sessionId)).toEqual([])
    })
  }
})
