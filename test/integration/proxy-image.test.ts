import type Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writePolicyFile } from '../../bench/network.js'
import type { NetworkPolicy, ProxyEvent } from '../../src/network/types.js'
import { ensureProxyImage, whyNotProxyImage } from '../../src/sandbox/docker/proxy-image.js'
import { createId } from '../../src/shared/ids.js'
import { requireDocker } from '../helpers/docker.js'
import { buildHostileImage, EVIL_MARKER, removeHostileImage } from '../helpers/hostile-image.js'
import { createTestSandbox, tempDir } from '../helpers/sandbox.js'

/** Events as they come, and a way to wait for the first that matches (no polling). */
function eventLog(): {
  events: ProxyEvent[]
  onEvent: (event: ProxyEvent) => void
  next: (match: (event: ProxyEvent) => boolean) => Promise<ProxyEvent>
} {
  const events: ProxyEvent[] = []
  const waiters: { match: (e: ProxyEvent) => boolean; resolve: (e: ProxyEvent) => void }[] = []
  return {
    events,
    onEvent: (event) => {
      events.push(event)
      for (const waiter of waiters.filter((w) => w.match(event))) waiter.resolve(event)
    },
    next: (match) => {
      const seen = events.find(match)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve) => waiters.push({ match, resolve }))
    },
  }
}

let docker: Docker
let hostile = ''

beforeAll(async () => {
  docker = await requireDocker()
  hostile = await buildHostileImage(docker)
})

afterAll(async () => {
  if (hostile !== '') await removeHostileImage(docker, hostile)
})

describe('the egress proxy runs from what Safe Coder controls', () => {
  it('never runs in the [docker] image nor with its environment, and still works', async () => {
    const log = eventLog()
    const dir = await tempDir('safe-coder-proxy-image-')
    const policy: NetworkPolicy = { mode: 'allowlist', allow: [], deny: [] }
    const policyFile = await writePolicyFile(dir, policy)
    const sessionId = createId('pimg')
    const { sandbox } = await createTestSandbox({
      backend: { image: hostile },
      spec: { sessionId, network: { policy, policyFile, onEvent: log.onEvent } },
    })
    // evil.js would run before the proxy's main module, so before its `ready` line.
    expect(log.events[0]).toEqual({ type: 'ready', port: 3128 })
    expect(log.events.filter((e) => e.type === 'error')).toEqual([])

    const r = await sandbox.exec({
      command: "curl -sS -m 10 -w '\\n%{http_code}' http://blocked.example/",
    })
    expect(r.stdout).toMatch(/Safe Coder blocked blocked\.example:80[^]*\n403$/)
    const denied = await log.next((e) => e.type === 'denied')
    expect(denied).toMatchObject({ host: 'blocked.example', port: 80 })
    expect(JSON.stringify(log.events)).not.toContain(EVIL_MARKER)

    const [proxy] = await docker.listContainers({
      filters: { label: [`safe-coder.session=${sessionId}`, 'safe-coder.role=egress-proxy'] },
    })
    const info = await docker.getContainer(proxy?.Id ?? 'missing').inspect()
    expect(info.Image).not.toBe(hostile)
    expect(info.Config.Env.filter((v) => /^(NODE_OPTIONS|LD_PRELOAD)=/.test(v))).toEqual([])
    // The sandbox itself does run in the image the user named, with its environment.
    const own = await docker.getContainer(sandbox.id).inspect()
    expect(own.Image).toBe(hostile)
  })

  it('never trusts the image name: a re-pointed tag is replaced by a checked import', async () => {
    const repo = 'safe-coder-test/egress-proxy'
    const tag = createId('t')
    await docker.getImage(hostile).tag({ repo, tag })
    try {
      const id = await ensureProxyImage(docker, { tag: `${repo}:${tag}` })
      expect(id).not.toBe(hostile)
      expect(whyNotProxyImage(await docker.getImage(id).inspect())).toBeUndefined()
      expect((await docker.getImage(`${repo}:${tag}`).inspect()).Id).toBe(id)
      // Once checked, the same image serves every later session.
      expect(await ensureProxyImage(docker, { tag: `${repo}:${tag}` })).toBe(id)
      // The hostile image kept its own name and was not taken for Safe Coder's.
      expect((await docker.getImage(hostile).inspect()).Id).toBe(hostile)
    } finally {
      await docker
        .getImage(`${repo}:${tag}`)
        .remove()
        .catch(() => undefined)
    }
  })
})
