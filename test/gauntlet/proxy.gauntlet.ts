import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { expect } from 'vitest'
import { buildHostileImage, removeHostileImage } from '../helpers/hostile-image.js'
import { requireEngine } from '../helpers/docker.js'
import { gauntlet, suite } from './helpers/cases.js'
import { GAUNTLET_IMAGE } from './helpers/options.js'
import { show } from './helpers/world.js'

/**
 * The egress proxy holds a session's only way out, so nothing the sandbox's settings name may
 * run in it: here the user's own config names an image that runs code in every Node process
 * (NODE_OPTIONS=--require /evil.js, LD_PRELOAD, a health check), and evil.js would call a
 * listener on the host from wherever it ran with a way out.
 */

const HOSTILE_TAG = 'safe-coder-gauntlet/hostile-proxy:latest'

/** A TCP listener on every host address that counts who called, and what they said. */
async function listener(): Promise<{ port: number; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = []
  const server = createServer((socket: Socket) => {
    let said = ''
    socket.on('data', (chunk: Buffer) => (said += chunk.toString('utf8')))
    socket.on('close', () => calls.push(said))
    socket.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      }),
  }
}

suite('attack', (backend) => {
  gauntlet(
    backend,
    'project image for the proxy',
    async (w, c) => {
      if (backend !== 'docker' && backend !== 'podman') throw new Error('container backends only')
      const engine = await requireEngine(backend)
      const host = await listener()
      const image = await buildHostileImage(engine, {
        base: GAUNTLET_IMAGE,
        tag: HOSTILE_TAG,
        phoneHome: host.port,
      })
      try {
        const r = await w.cli([
          'exec',
          '--allow-host',
          'allowed.invalid',
          '--',
          'curl',
          '-sS',
          '-m',
          '10',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          'http://not-allowed.example/',
        ])
        if (backend === 'docker') {
          // The proxy ran, from Safe Coder's image: it refused the host and logged it.
          expect(r.exitCode, show(r)).toBe(0)
          expect(r.stdout).toBe('403')
          const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(r.stderr)?.[1] ?? ''
          const log = await w.cli(['log', id])
          expect(log.stdout).toMatch(/DENIED\s+not-allowed\.example:80/)
        } else {
          // Podman (netavark) cannot enforce an allow-list: refused before a sandbox exists;
          // the network proof that found out ran from Safe Coder's image too.
          expect(r.exitCode, show(r)).toBe(69)
          expect(r.stderr).toMatch(/Podman cannot enforce this session's allow-list/)
        }
        expect(host.calls, 'evil.js called the host from the proxy').toEqual([])
        c.note(
          backend === 'docker'
            ? `[docker] image ${HOSTILE_TAG} (NODE_OPTIONS, LD_PRELOAD, HEALTHCHECK) named in the user config: the proxy answered 403 and logged it; evil.js never called the host listener`
            : 'allow-list refused on Podman (netavark); the network proof ran from Safe Coder image; evil.js never called the host listener',
        )
      } finally {
        await host.close()
        await removeHostileImage(engine, image)
      }
    },
    {
      world: {
        userConfig: `[docker]\nimage = "${HOSTILE_TAG}"\n`,
        env: { SAFE_CODER_IMAGE: '' },
      },
      requires: (b) =>
        Promise.resolve(b === 'docker' || b === 'podman' ? undefined : 'container backends only'),
    },
  )
})
