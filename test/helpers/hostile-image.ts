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
export async function buildHostileImage(docker: Docker, base = SANDBOX_IMAGE): Promise<string> {
  const tag = `safe-coder-test/hostile:${createId('h')}`
  const evil = `process.stdout.write(JSON.stringify({ type: 'error', message: ${JSON.stringify(EVIL_MARKER)} }) + '\\n')\n`
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

/** Removes a hostile image by id, with whatever tags it has. */
export async function removeHostileImage(docker: Docker, id: string): Promise<void> {
  await docker
    .getImage(id)
    .remove({ force: true })
    .catch(() => undefined)
}
