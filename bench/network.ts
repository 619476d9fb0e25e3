import { chmod, mkdir, mkdtemp, realpath, rename, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type Docker from 'dockerode'
import type { NetworkPolicy } from '../src/network/types.js'
import { BUSYBOX_IMAGE } from '../src/sandbox/docker/busybox-image.js'
import { networkNames } from '../src/sandbox/docker/network.js'
import type { Sandbox, SandboxNetwork } from '../src/sandbox/types.js'
import { createId } from '../src/shared/ids.js'
import { SANDBOX_IMAGE } from '../src/shared/version.js'
import { backendFor } from './exec.js'
import { formatResults, median, result, type BenchResult } from './lib.js'

/** A busybox httpd on port 8080 serving /www, which `prepare` (a shell snippet) fills. */
export interface WebServer {
  id: string
  /** Joins another network under `alias`; returns the server's address there. */
  join(network: string, alias: string): Promise<string>
  remove(): Promise<void>
}

export async function startWebServer(
  docker: Docker,
  options: { network: string; alias: string; prepare: string; labels: Record<string, string> },
): Promise<WebServer> {
  const container = await docker.createContainer({
    Image: BUSYBOX_IMAGE,
    Cmd: ['sh', '-c', `mkdir -p /www && ${options.prepare} && exec httpd -f -p 8080 -h /www`],
    Labels: options.labels,
    HostConfig: { NetworkMode: options.network },
    NetworkingConfig: { EndpointsConfig: { [options.network]: { Aliases: [options.alias] } } },
  })
  await container.start()
  return {
    id: container.id,
    join: async (network, alias) => {
      await docker
        .getNetwork(network)
        .connect({ Container: container.id, EndpointConfig: { Aliases: [alias] } })
      const info = await container.inspect()
      return info.NetworkSettings.Networks[network]?.IPAddress ?? ''
    },
    remove: () => container.remove({ force: true }).then(() => undefined),
  }
}

/** Writes a policy file the way a session does: its own 0755 folder, 0644, replaced by rename. */
export async function writePolicyFile(dir: string, policy: NetworkPolicy): Promise<string> {
  const folder = path.join(dir, 'network')
  await mkdir(folder, { recursive: true })
  await chmod(folder, 0o755)
  const file = path.join(folder, 'policy.json')
  const temp = `${file}.${process.pid}.tmp`
  await writeFile(temp, JSON.stringify(policy), { mode: 0o644 })
  await chmod(temp, 0o644)
  await rename(temp, file)
  return file
}

/**
 * The floor any userspace relay pays in the proxy's place: a container with the sidecar's CPU
 * share on the same two networks, running a bare Node TCP pipe (no HTTP, no policy, no events)
 * to `target`, on the host's own Node binary like the sidecar. Returns its internal address.
 */
async function startBareRelay(
  docker: Docker,
  options: {
    internal: string
    egress: string
    target: { host: string; port: number }
    nanoCpus: number
    labels: Record<string, string>
  },
): Promise<{ address: string; remove: () => Promise<void> }> {
  const relay =
    "const net=require('net');net.createServer(c=>{" +
    `const u=net.connect(${options.target.port},'${options.target.host}');` +
    "u.pipe(c);c.pipe(u);u.on('error',()=>c.destroy());c.on('error',()=>u.destroy())" +
    `}).listen(${RELAY_PORT})`
  const container = await docker.createContainer({
    Image: SANDBOX_IMAGE,
    Entrypoint: ['/opt/node'],
    Cmd: ['-e', relay],
    User: '65534:65534',
    Labels: options.labels,
    HostConfig: {
      Mounts: [
        {
          Type: 'bind',
          Source: await realpath(process.execPath),
          Target: '/opt/node',
          ReadOnly: true,
        },
      ],
      NetworkMode: options.internal,
      NanoCpus: options.nanoCpus,
    },
  })
  const remove = (): Promise<void> => container.remove({ force: true }).then(() => undefined)
  try {
    await docker.getNetwork(options.egress).connect({ Container: container.id })
    await container.start()
    const info = await container.inspect()
    const address = info.NetworkSettings.Networks[options.internal]?.IPAddress ?? ''
    if (address === '') throw new Error('the bare relay has no address on the internal network')
    return { address, remove }
  } catch (error) {
    await remove().catch(() => undefined)
    throw error
  }
}

const RELAY_PORT = 9000

/** Seconds curl spent on one download of `url`; throws unless it got all `bytes` with a 200. */
async function download(
  sandbox: Sandbox,
  url: string,
  bytes: number,
  extra: string[] = [],
): Promise<number> {
  const r = await sandbox.exec({
    command: [
      'curl',
      ...extra,
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_download} %{time_total}',
      url,
    ],
    timeoutMs: 60_000,
  })
  const [code, size, seconds] = r.stdout.trim().split(' ')
  if (code !== '200' || Number(size) !== bytes) {
    throw new Error(`download of ${url} failed: ${r.stdout} ${r.stderr} (exit ${r.exitCode})`)
  }
  return Number(seconds) * 1000
}

/** Retries `fn` for up to `ms` (a server or a re-read policy takes a moment). */
export async function eventually<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    try {
      return await fn()
    } catch (error) {
      if (Date.now() > end) throw error
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

/**
 * A 10 MB HTTP download inside the sandbox (curl's own time_total, so exec overhead is out)
 * through the allow-list proxy, against the same download in `open` mode, in the same run.
 */
export async function benchNetwork(
  options: { runs?: number; sizeMb?: number } = {},
): Promise<BenchResult[]> {
  const runs = options.runs ?? 7
  const bytes = (options.sizeMb ?? 10) * 1024 * 1024
  const backend = backendFor(SANDBOX_IMAGE)
  const docker = await backend.client()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-net-'))
  const labels = { 'safe-coder-bench': 'network' }
  const web = `safe-coder-bench-web-${createId('n')}`
  await docker.createNetwork({ Name: web, Labels: labels })
  const cleanup: (() => Promise<unknown>)[] = [() => docker.getNetwork(web).remove()]
  try {
    const server = await startWebServer(docker, {
      network: web,
      alias: 'bench-server',
      prepare: `head -c ${bytes} /dev/zero > /www/big`,
      labels,
    })
    cleanup.unshift(() => server.remove())
    const url = 'http://bench-server:8080/big'
    // The server joins the network the sandbox's traffic leaves by: its own, or the proxy's.
    let proxySession = ''
    const create = async (network: SandboxNetwork): Promise<[Sandbox, string]> => {
      const sessionId = createId('bench')
      if (network.policy.mode !== 'open') proxySession = sessionId
      const sandbox = await backend.create({ sessionId, mirrorDir: dir, projectPath: dir, network })
      cleanup.unshift(() => sandbox.dispose())
      const names = networkNames(sessionId)
      const joined = network.policy.mode === 'open' ? names.open : names.egress
      return [sandbox, await server.join(joined, 'bench-server')]
    }
    const openPolicy: NetworkPolicy = { mode: 'open', allow: [], deny: [] }
    const [open] = await create({
      policy: openPolicy,
      policyFile: await writePolicyFile(dir, openPolicy),
    })
    const policy: NetworkPolicy = { mode: 'allowlist', allow: ['bench-server:8080'], deny: [] }
    const policyFile = await writePolicyFile(dir, policy)
    const [proxied, address] = await create({ policy, policyFile })
    // The proxy refuses private addresses unless an entry names the address: allow it too.
    await writePolicyFile(dir, { ...policy, allow: [...policy.allow, `${address}:8080`] })
    const names = networkNames(proxySession)
    const nanoCpus = (await docker.getContainer(proxied.id).inspect()).HostConfig.NanoCpus ?? 0
    const bare = await startBareRelay(docker, {
      internal: names.internal,
      egress: names.egress,
      target: { host: address, port: 8080 },
      nanoCpus,
      labels,
    })
    cleanup.unshift(bare.remove)
    const bareUrl = `http://${bare.address}:${RELAY_PORT}/big`
    await eventually(() => download(proxied, url, bytes))
    await eventually(() => download(open, url, bytes))
    await eventually(() => download(proxied, bareUrl, bytes, ['--noproxy', '*']))
    const viaProxy: number[] = []
    const tunnelled: number[] = []
    const direct: number[] = []
    const relayed: number[] = []
    for (let i = 0; i < runs; i++) {
      const steps = [
        async () => viaProxy.push(await download(proxied, url, bytes)),
        // -p: a CONNECT tunnel, the path HTTPS takes.
        async () => tunnelled.push(await download(proxied, url, bytes, ['-p'])),
        async () => direct.push(await download(open, url, bytes)),
        async () => relayed.push(await download(proxied, bareUrl, bytes, ['--noproxy', '*'])),
      ]
      for (let j = 0; j < steps.length; j++) await steps[(i + j) % steps.length]?.()
    }
    const mb = bytes / 2 ** 20
    return [
      result(
        `${mb} MB download via the egress proxy, plain HTTP (median of ${runs})`,
        'same download, open network',
        median(viaProxy),
        median(direct),
        1.3,
      ),
      result(
        `${mb} MB download via the egress proxy, CONNECT tunnel (median of ${runs})`,
        'same download, open network',
        median(tunnelled),
        median(direct),
        1.3,
      ),
      // Not a target: how much of the overhead is the proxy's own, and how much any relay's.
      result(
        `${mb} MB download via a bare Node TCP relay in the proxy's place (median of ${runs})`,
        'same download, open network',
        median(relayed),
        median(direct),
        Number.POSITIVE_INFINITY,
      ),
      result(
        `${mb} MB download via the egress proxy, CONNECT tunnel (median of ${runs})`,
        'same download, bare relay',
        median(tunnelled),
        median(relayed),
        Number.POSITIVE_INFINITY,
      ),
      result(
        `${mb} MB download via the egress proxy, plain HTTP (median of ${runs})`,
        'same download, bare relay',
        median(viaProxy),
        median(relayed),
        Number.POSITIVE_INFINITY,
      ),
    ]
  } finally {
    for (const step of cleanup) await step().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatResults(await benchNetwork({ runs: Number(process.env.BENCH_RUNS ?? 7) })))
}
