import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { benchNetwork, eventually, startWebServer, writePolicyFile } from '../../bench/network.js'
import { formatResults } from '../../bench/lib.js'
import type { NetworkPolicy, ProxyEvent } from '../../src/network/types.js'
import { reapOrphans } from '../../src/sandbox/gc.js'
import { DockerBackend } from '../../src/sandbox/docker/backend.js'
import { inspectImage } from '../../src/sandbox/docker/image.js'
import { networkNames, prepareNetwork, PROXY_URL } from '../../src/sandbox/docker/network.js'
import { defaultDistDir } from '../../src/sandbox/docker/dist-dir.js'
import { findHostNode } from '../../src/sandbox/docker/host-node.js'
import { locateProxy, type ProxyAssets } from '../../src/sandbox/docker/proxy-assets.js'
import { ensureProxyImage, PROXY_ENV_KEYS } from '../../src/sandbox/docker/proxy-image.js'
import { ProxyEventReader } from '../../src/sandbox/docker/proxy-events.js'
import type { Sandbox, SandboxSpec } from '../../src/sandbox/types.js'
import { createId } from '../../src/shared/ids.js'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { requireDocker } from '../helpers/docker.js'
import { createTestSandbox, tempDir, testBackendOptions } from '../helpers/sandbox.js'
import { failure } from '../helpers/failure.js'
import { sessionLeftovers } from '../helpers/docker.js'

const TEST_LABELS = { 'safe-coder-test': 'docker-network' }

async function proxyContainer(docker: Docker, sessionId: string): Promise<Docker.Container> {
  const found = await docker.listContainers({
    filters: { label: [`safe-coder.session=${sessionId}`, 'safe-coder.role=egress-proxy'] },
  })
  const id = found[0]?.Id
  if (id === undefined) throw new Error(`no egress proxy for ${sessionId}`)
  return docker.getContainer(id)
}

/**
 * Runs a Node script in the proxy container as nobody (its image has no shell, no curl, no
 * getent: only the host's Node, mounted); what it printed.
 */
async function nodeIn(container: Docker.Container, script: string): Promise<string> {
  const exec = await container.exec({
    Cmd: ['/opt/safe-coder/node', '-e', script],
    User: '65534:65534',
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
  })
  const stream = await exec.start({ hijack: true, stdin: false, Tty: true })
  let out = ''
  stream.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
  await new Promise((resolve) => stream.once('end', resolve))
  return out.replace(/\r\n/g, '\n')
}

/** `curl` in the sandbox: status code (000 when it failed), exit code and body. */
async function curl(
  sandbox: Sandbox,
  args: string,
): Promise<{ code: string; exit: number | null; body: string }> {
  const r = await sandbox.exec({
    command: `curl -sS --connect-timeout 4 -m 8 -w '\\n%{http_code}' ${args}`,
  })
  const lines = r.stdout.split('\n')
  return { code: lines.pop() ?? '', exit: r.exitCode, body: lines.join('\n') + r.stderr }
}

/** A sandbox of the Debian image (it has curl and getent) with a network policy. */
async function networkSandbox(
  policy: NetworkPolicy,
  events: ProxyEvent[] = [],
): Promise<{ sandbox: Sandbox; sessionId: string; dir: string; policyFile: string }> {
  const dir = await tempDir('safe-coder-net-')
  const sessionId = createId('net')
  const policyFile = await writePolicyFile(dir, policy)
  const { sandbox } = await createTestSandbox({
    backend: { image: SANDBOX_IMAGE },
    spec: { sessionId, network: { policy, policyFile, onEvent: (e) => events.push(e) } },
  })
  return { sandbox, sessionId, dir, policyFile }
}

let docker: Docker
let webNetwork = ''
let servers: Awaited<ReturnType<typeof startWebServer>>[] = []
let hostServer: Server | undefined
let hostPort: number

beforeAll(async () => {
  docker = await requireDocker()
  if ((await inspectImage(docker, SANDBOX_IMAGE)) === undefined) {
    throw new Error(`These tests need ${SANDBOX_IMAGE}: run \`safe-coder image build\`.`)
  }
  await locateProxy()
  webNetwork = `safe-coder-test-web-${createId('n')}`
  await docker.createNetwork({ Name: webNetwork, Labels: TEST_LABELS })
  servers = await Promise.all(
    ['allowed', 'other'].map((name) =>
      startWebServer(docker, {
        network: webNetwork,
        alias: `${name}-server`,
        prepare: `echo ${name}-ok > /www/x`,
        labels: TEST_LABELS,
      }),
    ),
  )
  const listener = createServer((_req, res) => res.end('host-ok'))
  hostServer = listener
  await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve))
  hostPort = (listener.address() as AddressInfo).port
})

afterAll(async () => {
  for (const server of servers) await server.remove().catch(() => undefined)
  if (webNetwork !== '')
    await docker
      .getNetwork(webNetwork)
      .remove()
      .catch(() => undefined)
  const server = hostServer
  if (server !== undefined) await new Promise((resolve) => server.close(resolve))
})

/** The test servers join the proxy's egress network; their addresses there. */
async function joinEgress(sessionId: string): Promise<{ allowed: string; other: string }> {
  const egress = networkNames(sessionId).egress
  const [allowed = '', other = ''] = await Promise.all(
    servers.map((s, i) => s.join(egress, i === 0 ? 'allowed-server' : 'other-server')),
  )
  return { allowed, other }
}

describe('docker sandbox network: allowlist', () => {
  it('reaches allowed hosts only through the proxy, and nothing directly', async () => {
    const events: ProxyEvent[] = []
    const policy: NetworkPolicy = { mode: 'allowlist', allow: ['allowed-server:8080'], deny: [] }
    const { sandbox, sessionId, dir } = await networkSandbox(policy, events)
    expect(events[0]).toEqual({ type: 'ready', port: 3128 })
    const ip = await joinEgress(sessionId)
    // The proxy refuses private addresses unless an entry names the address; the sidecar
    // re-reads the policy, replaced by rename in the folder it has mounted.
    await writePolicyFile(dir, { ...policy, allow: [...policy.allow, `${ip.allowed}:8080`] })

    const env = await sandbox.exec({ command: 'env | grep -i _proxy= | sort' })
    expect(env.stdout).toContain(`HTTP_PROXY=${PROXY_URL}`)
    expect(env.stdout).toContain(`https_proxy=${PROXY_URL}`)
    expect(env.stdout).toContain('NO_PROXY=localhost,127.0.0.1')

    const allowed = await eventually(async () => {
      const r = await curl(sandbox, 'http://allowed-server:8080/x')
      if (r.code !== '200') throw new Error(r.body)
      return r
    })
    expect(allowed.body).toBe('allowed-ok\n')
    const other = await curl(sandbox, 'http://other-server:8080/x')
    expect(other.code).toBe('403')
    expect(other.body).toMatch(/blocked other-server:8080: not in this session's allow-list/)

    // Without the proxy: no name, no route.
    const hostAddresses = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a?.family === 'IPv4' && !a.internal)
      .map((a) => a?.address ?? '')
    const outInfo = await docker.getNetwork(networkNames(sessionId).egress).inspect()
    const outGateway = outInfo.IPAM?.Config?.[0]?.Gateway ?? ''
    expect(outGateway).not.toBe('')
    const direct = [
      'allowed-server:8080/x',
      `${ip.allowed}:8080/x`,
      `${ip.other}:8080/x`,
      '169.254.169.254/',
      // docker0's usual address too: a bridge without containers is down and not listed.
      ...[outGateway, '172.17.0.1', ...hostAddresses].map((a) => `${a}:${hostPort}/`),
    ]
    const results = await Promise.all(direct.map((t) => curl(sandbox, `--noproxy '*' http://${t}`)))
    for (const [i, r] of results.entries()) {
      expect(r.code, `direct ${direct[i] ?? ''}: ${r.body}`).toBe('000')
      expect(r.exit, `direct ${direct[i] ?? ''}`).not.toBe(0)
    }
    // …while the proxy's own side reaches the host listener: the sandbox's wall is real.
    const sidecar = await proxyContainer(docker, sessionId)
    const fetched = `fetch('http://${outGateway}:${hostPort}/').then((r) => r.text()).then((t) => process.stdout.write(t))`
    expect(await nodeIn(sidecar, fetched)).toBe('host-ok')
    // Through the proxy, the metadata service and the host's addresses are refused.
    for (const t of ['169.254.169.254/', `${outGateway}:${hostPort}/`, `172.17.0.1:${hostPort}/`]) {
      const r = await curl(sandbox, `http://${t}`)
      expect(r.code, `${t}: ${r.body}`).toBe('403')
      expect(r.body).toMatch(/Safe Coder blocked/)
    }

    // DNS: container names of the egress side and outside names do not resolve in the sandbox.
    expect((await sandbox.exec({ command: 'getent hosts egress' })).exitCode).toBe(0)
    for (const name of ['allowed-server', 'example.com', 'registry.npmjs.org']) {
      const r = await sandbox.exec({ command: `getent hosts ${name}` })
      expect(r.exitCode, `${name}: ${r.stdout}`).not.toBe(0)
    }
    const lookup =
      "require('dns').lookup('allowed-server', (e, a) => process.stdout.write(String(a)))"
    expect(await nodeIn(sidecar, lookup)).toBe(ip.allowed)
    const ifaces = await sandbox.exec({
      command: "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort",
    })
    expect(ifaces.stdout.trim().split('\n')).toEqual(['eth0', 'lo'])

    await eventually(() => {
      const ok = events.find((e) => e.type === 'allowed' && e.host === 'allowed-server')
      const no = events.find((e) => e.type === 'denied' && e.host === 'other-server')
      if (ok === undefined || no === undefined) throw new Error(JSON.stringify(events))
      return Promise.resolve()
    }, 5000)
    const ok = events.find((e) => e.type === 'allowed' && e.host === 'allowed-server')
    expect(ok).toMatchObject({ port: 8080, kind: 'http', method: 'GET', path: '/x' })
    expect(ok?.type === 'allowed' && ok.bytesIn).toBeGreaterThan(0)
    const no = events.find((e) => e.type === 'denied' && e.host === 'other-server')
    expect(no).toMatchObject({ port: 8080, reason: 'not in the allow-list', bytesIn: 0 })

    await sandbox.dispose()
    expect(await sessionLeftovers(docker, sessionId)).toEqual([])
    // The servers were only disconnected.
    expect((await docker.getContainer(servers[0]?.id ?? '').inspect()).State.Running).toBe(true)
    await sandbox.dispose()
  })

  it('hardens the proxy container like the sandbox and mounts only what it runs, read-only', async () => {
    const { sessionId, policyFile } = await networkSandbox({
      mode: 'allowlist',
      allow: [],
      deny: [],
    })
    const info = await (await proxyContainer(docker, sessionId)).inspect()
    // Safe Coder's own image, by id, and an environment set in full by Safe Coder.
    expect(info.Image).toBe(await ensureProxyImage(docker))
    const keys = info.Config.Env.map((v) => v.split('=')[0] ?? '')
    expect(keys.sort()).toEqual(
      ['HOME', 'LD_LIBRARY_PATH', 'PATH', 'SAFE_CODER_POLICY_FILE', 'SAFE_CODER_PROXY_PORT'].sort(),
    )
    expect(keys.every((k) => (PROXY_ENV_KEYS as readonly string[]).includes(k))).toBe(true)
    expect(info.Config.User).toBe('65534:65534')
    expect(info.HostConfig.CapDrop).toEqual(['ALL'])
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges'])
    expect(info.HostConfig.ReadonlyRootfs).toBe(true)
    expect(info.HostConfig.PidsLimit).toBeGreaterThan(0)
    expect(info.HostConfig.Memory).toBeGreaterThan(0)
    const node = await findHostNode()
    expect(info.Mounts.map((m) => [m.Destination, m.RW]).sort()).toEqual(
      [
        ['/etc/safe-coder/policy', false],
        ['/opt/safe-coder/dist', false],
        ['/opt/safe-coder/node', false],
        ['/opt/safe-coder/package.json', false],
        [node.interpreter?.target, false],
        ...node.libraries.map((l) => [`/opt/safe-coder/lib/${l.name}`, false]),
      ].sort(),
    )
    expect(info.Mounts.find((m) => m.Destination === '/etc/safe-coder/policy')?.Source).toBe(
      path.dirname(policyFile),
    )
    const names = networkNames(sessionId)
    const nets = info.NetworkSettings.Networks
    expect(Object.keys(nets).sort()).toEqual([names.internal, names.egress].sort())
    expect(nets[names.internal]?.Aliases).toContain('egress')
    const internal = await docker.getNetwork(names.internal).inspect()
    expect(internal.Internal).toBe(true)
    expect(internal.Labels?.['safe-coder.session']).toBe(sessionId)
    expect((await docker.getNetwork(names.egress).inspect()).Internal).toBe(false)
  })
})

describe('docker sandbox network: none and open', () => {
  it('none: no proxy variables, no interface but lo, nothing reachable', async () => {
    const { sandbox } = await createTestSandbox({ backend: { image: SANDBOX_IMAGE } })
    const env = await sandbox.exec({ command: 'env' })
    expect(env.stdout).not.toMatch(/_proxy=/i)
    const ifaces = await sandbox.exec({
      command: "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
    })
    expect(ifaces.stdout.trim()).toBe('lo')
    const r = await curl(sandbox, `-x ${PROXY_URL} http://allowed-server:8080/x`)
    expect(r.code).toBe('000')
    expect((await sandbox.exec({ command: 'getent hosts egress' })).exitCode).not.toBe(0)
  })

  it('open: its own bridge network, no proxy, removed on dispose', async () => {
    const policy: NetworkPolicy = { mode: 'open', allow: [], deny: [] }
    const { sandbox, sessionId } = await networkSandbox(policy)
    const net = await docker.getNetwork(networkNames(sessionId).open).inspect()
    expect(net.Internal).toBe(false)
    expect(net.Labels?.['safe-coder.role']).toBe('network')
    await servers[0]?.join(networkNames(sessionId).open, 'allowed-server')
    expect((await sandbox.exec({ command: 'env' })).stdout).not.toMatch(/_proxy=/i)
    const r = await eventually(async () => {
      const got = await curl(sandbox, 'http://allowed-server:8080/x')
      if (got.code !== '200') throw new Error(got.body)
      return got
    })
    expect(r.body).toBe('allowed-ok\n')
    await sandbox.dispose()
    expect(await sessionLeftovers(docker, sessionId)).toEqual([])
  })
})

describe('docker sandbox network: gc', () => {
  it('lists a session once, and gc removes the proxy and networks of a dead owner', async () => {
    const policy: NetworkPolicy = { mode: 'allowlist', allow: [], deny: [] }
    const whole = await networkSandbox(policy)
    const half = await networkSandbox(policy)
    // A crash that took the sandbox container but left its proxy and networks.
    await docker.getContainer(half.sandbox.id).remove({ force: true })
    const backend = new DockerBackend(testBackendOptions())
    const listed = await backend.list()
    const mine = listed.filter((s) => [whole.sessionId, half.sessionId].includes(s.sessionId))
    expect(mine.map((s) => [s.sessionId, s.id === whole.sandbox.id || s.state])).toEqual(
      expect.arrayContaining([
        [whole.sessionId, true],
        [half.sessionId, expect.stringMatching(/egress proxy without its sandbox/)],
      ]),
    )
    expect(mine).toHaveLength(2)
    const kept = await reapOrphans(backend, { dryRun: true })
    expect(kept.removed.map((s) => s.sessionId)).not.toContain(whole.sessionId)
    const reaped = await reapOrphans(backend, { isAlive: (pid) => pid !== process.pid })
    expect(reaped.removed.map((s) => s.sessionId)).toEqual(
      expect.arrayContaining([whole.sessionId, half.sessionId]),
    )
    expect(await sessionLeftovers(docker, whole.sessionId)).toEqual([])
    expect(await sessionLeftovers(docker, half.sessionId)).toEqual([])
    // Session data is never touched.
    expect((await stat(whole.policyFile)).isFile()).toBe(true)
  })
})

describe('docker sandbox network: failures', () => {
  /** A stand-in proxy: `main` is the body of dist/network/proxy-main.js. */
  async function standIn(main: string): Promise<ProxyAssets> {
    const root = await tempDir('safe-coder-standin-')
    await chmod(root, 0o755)
    const dist = path.join(root, 'dist')
    await mkdir(path.join(dist, 'network'), { recursive: true, mode: 0o755 })
    await chmod(dist, 0o755)
    await chmod(path.join(dist, 'network'), 0o755)
    await writeFile(path.join(dist, 'network', 'proxy-main.js'), main, { mode: 0o644 })
    await writeFile(path.join(root, 'package.json'), '{"type":"module"}\n', { mode: 0o644 })
    return locateProxy(dist)
  }

  async function allowlistSpec(events: ProxyEvent[] = []): Promise<SandboxSpec> {
    const dir = await tempDir('safe-coder-net-')
    const policy: NetworkPolicy = { mode: 'allowlist', allow: [], deny: [] }
    return {
      sessionId: createId('netfail'),
      mirrorDir: dir,
      projectPath: dir,
      network: {
        policy,
        policyFile: await writePolicyFile(dir, policy),
        onEvent: (e) => events.push(e),
      },
    }
  }

  const options = testBackendOptions({ image: SANDBOX_IMAGE })

  it('names the missing build and how to fix it', async () => {
    const error = await failure(locateProxy('/nonexistent/dist'))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toContain('/nonexistent/dist/network/proxy-main.js is missing')
    expect(error.hint).toMatch(/npm run build/)
    expect(defaultDistDir()).toBe(path.resolve(import.meta.dirname, '../../dist'))
  })

  it('gives up on a proxy that never says ready, leaving nothing behind', async () => {
    const assets = await standIn('setInterval(() => {}, 1000)\n')
    const spec = await allowlistSpec()
    const started = Date.now()
    const error = await failure(prepareNetwork(docker, spec, options, { assets, readyMs: 2000 }))
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(/did not report ready within 2 s/)
    expect(await sessionLeftovers(docker, spec.sessionId)).toEqual([])
  })

  it('reports a proxy that exits with what it said, leaving nothing behind', async () => {
    const assets = await standIn("console.error('cannot listen: EADDRINUSE'); process.exit(3)\n")
    const spec = await allowlistSpec()
    const error = await failure(prepareNetwork(docker, spec, options, { assets }))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(/exited before it was ready: cannot listen: EADDRINUSE/)
    expect(await sessionLeftovers(docker, spec.sessionId)).toEqual([])
  })

  it('turns malformed and oversized lines into error events, and a later exit too', async () => {
    const events: ProxyEvent[] = []
    const assets = await standIn(
      [
        "process.stdout.write('not json\\n' + 'x'.repeat(200000) + '\\n{\"type\":\"mystery\"}\\n')",
        "process.stdout.write(JSON.stringify({ type: 'ready', port: 3128 }) + '\\n')",
        'process.stdin.resume(); setTimeout(() => process.exit(0), 1500)',
      ].join('\n'),
    )
    const spec = await allowlistSpec(events)
    const network = await prepareNetwork(docker, spec, options, { assets })
    try {
      expect(network.container.env.HTTP_PROXY).toBe(PROXY_URL)
      expect(events.map((e) => (e.type === 'error' ? e.message.slice(0, 40) : e.type))).toEqual([
        'malformed proxy event line: not json',
        'dropped a proxy event line longer than 6',
        'unrecognised proxy event: {"type":"myste',
        'ready',
      ])
      await eventually(() => {
        const last = events.at(-1)
        if (last?.type !== 'error') throw new Error('no exit reported yet')
        expect(last.message).toMatch(/the egress proxy stopped/)
        return Promise.resolve()
      }, 5000)
    } finally {
      await network.release()
      await network.release()
    }
    expect(await sessionLeftovers(docker, spec.sessionId)).toEqual([])
  })
})

describe('proxy event lines', () => {
  it('joins split chunks, skips blank lines, and caps line length', () => {
    const got: ProxyEvent[] = []
    const reader = new ProxyEventReader((e) => got.push(e), 100)
    reader.push('{"type":"rea')
    reader.push('dy","port":3128}\n\n')
    reader.push('x'.repeat(150))
    reader.push('y'.repeat(150))
    reader.push('z\n{"type":"error","message":"m"}\r\n')
    expect(got).toEqual([
      { type: 'ready', port: 3128 },
      { type: 'error', message: 'dropped a proxy event line longer than 100 bytes' },
      { type: 'error', message: 'm' },
    ])
  })
})

describe('docker sandbox network: benchmark', () => {
  it('measures a 10 MB download through the proxy against open mode (printed)', async () => {
    const results = await benchNetwork({ runs: 7 })
    console.log(formatResults(results))
    expect(results.every((r) => r.ours > 0 && r.theirs > 0)).toBe(true)
  })
})
