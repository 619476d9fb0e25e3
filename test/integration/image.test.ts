import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configSchema } from '../../src/config/schema.js'
import { buildBusyboxImage } from '../../src/sandbox/docker/busybox-image.js'
import { buildSandboxImage } from '../../src/sandbox/docker/image-build.js'
import { sandboxInputsHash } from '../../src/sandbox/docker/image-spec.js'
import { ensureImage, inspectImage } from '../../src/sandbox/docker/image.js'
import { SafeCoderError } from '../../src/shared/errors.js'
import { SANDBOX_IMAGE, VERSION } from '../../src/shared/version.js'
import { requireDocker, runInImage } from '../helpers/docker.js'

const run = `${process.pid}-${Date.now().toString(36)}`
const busyboxTag = `safe-coder-test/busybox:${run}`
const imageDefaults = configSchema.parse({}).image

let docker: Docker

beforeAll(async () => {
  docker = await requireDocker()
})

afterAll(async () => {
  await docker
    .getImage(busyboxTag)
    .remove()
    .catch(() => undefined)
})

async function rejection(promise: Promise<unknown>): Promise<SafeCoderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof SafeCoderError))
    throw new Error(`expected a SafeCoderError, got ${String(error)}`)
  return error
}

describe('buildBusyboxImage', () => {
  it('builds a labelled image whose shell runs', async () => {
    const result = await buildBusyboxImage({ docker, tag: busyboxTag })
    expect(result).toMatchObject({ tag: busyboxTag, reused: false })
    expect(result.sizeBytes).toBeGreaterThan(500_000)
    expect(result.sizeBytes).toBeLessThan(10_000_000)

    const image = await inspectImage(docker, busyboxTag)
    expect(image?.id).toBe(result.id)
    expect(image?.labels).toMatchObject({
      'safe-coder.image': 'busybox',
      'safe-coder.version': VERSION,
    })
    expect(image?.labels['safe-coder.inputs']).toMatch(/^[0-9a-f]{64}$/)

    expect(await runInImage(docker, busyboxTag, ['sh', '-c', 'echo ok'])).toEqual({
      exitCode: 0,
      output: 'ok\n',
    })
  })

  it('lays out applets, accounts and writable directories', async () => {
    const script = [
      'test -f /bin/busybox && ! test -L /bin/busybox',
      'test "$(readlink /bin/ls)" = busybox',
      'grep -q "^nobody:x:65534:65534:" /etc/passwd && grep -q "^nobody:x:65534:" /etc/group',
      'stat -c %a /tmp /workspace',
      'pwd',
    ].join(' && ')
    const result = await runInImage(docker, busyboxTag, ['sh', '-c', script])
    expect(result).toEqual({ exitCode: 0, output: '1777\n1777\n/workspace\n' })

    const asNobody = await runInImage(
      docker,
      busyboxTag,
      ['sh', '-c', 'touch /workspace/f && id -u'],
      {
        user: '65534:65534',
      },
    )
    expect(asNobody).toEqual({ exitCode: 0, output: '65534\n' })
  })

  it('reuses an up-to-date image by its inputs label, and rebuilds on force', async () => {
    const before = await inspectImage(docker, busyboxTag)
    const again = await buildBusyboxImage({ docker, tag: busyboxTag })
    expect(again).toMatchObject({ reused: true, id: before?.id })

    const forced = await buildBusyboxImage({ docker, tag: busyboxTag, force: true })
    expect(forced.reused).toBe(false)
    expect(forced.id).not.toBe(before?.id)
    // The replaced image was ours and is now untagged: it is removed, not left dangling.
    expect(await inspectImage(docker, before?.id ?? 'missing')).toBeUndefined()
  })

  it('refuses a missing or dynamically linked busybox with the install hint', async () => {
    const missing = await rejection(
      buildBusyboxImage({ docker, tag: busyboxTag, busyboxPath: '/nonexistent/busybox' }),
    )
    expect(missing.code).toBe('IMAGE_BUILD_FAILED')
    expect(missing.hint).toBe('apt-get install busybox-static')

    const dynamic = await rejection(
      buildBusyboxImage({ docker, tag: busyboxTag, busyboxPath: process.execPath }),
    )
    expect(dynamic.code).toBe('IMAGE_BUILD_FAILED')
    expect(dynamic.message).toMatch(/dynamically linked/)
    expect(dynamic.hint).toBe('apt-get install busybox-static')
  })
})

describe('ensureImage', () => {
  it('accepts an image that is present', async () => {
    await buildBusyboxImage({ docker, tag: busyboxTag })
    await expect(ensureImage(docker, { tag: busyboxTag })).resolves.toBeUndefined()
  })

  it('reports a missing sandbox image with the offline build command', async () => {
    const tag = `safe-coder/sandbox:missing-${run}`
    expect(await inspectImage(docker, tag)).toBeUndefined()
    const error = await rejection(ensureImage(docker, { tag }))
    expect(error.code).toBe('IMAGE_MISSING')
    expect(error.message).toBe(`Sandbox image ${tag} is not present in the Docker engine.`)
    expect(error.hint).toContain('`safe-coder image build`')
    expect(error.hint).toContain('debootstrap')
  })

  it('names the busybox build for a missing busybox image', async () => {
    const error = await rejection(ensureImage(docker, { tag: `safe-coder/busybox:missing-${run}` }))
    expect(error.code).toBe('IMAGE_MISSING')
    expect(error.hint).toContain('`safe-coder image build --busybox`')
  })

  it('explains a failed pull and how to build offline instead', async () => {
    const tag = `127.0.0.1:9/safe-coder-test/nothing:${run}`
    const steps: string[] = []
    const error = await rejection(
      ensureImage(docker, { tag, autoPull: true, onProgress: (step) => steps.push(step) }),
    )
    expect(error.code).toBe('IMAGE_MISSING')
    expect(error.message).toMatch(new RegExp(`^Cannot pull ${tag.replace(/[.]/g, '\\.')}: .+`))
    expect(error.hint).toContain('safe-coder image build')
    expect(steps).toContain('pull')
  })
})

describe('buildSandboxImage', () => {
  it('builds (or reuses) the debootstrap image with labels, tools and /workspace', async () => {
    const result = await buildSandboxImage({ docker, tag: SANDBOX_IMAGE, ...imageDefaults })
    const image = await inspectImage(docker, SANDBOX_IMAGE)
    expect(image?.id).toBe(result.id)
    expect(image?.labels).toMatchObject({
      'safe-coder.image': 'sandbox',
      'safe-coder.version': VERSION,
      'safe-coder.inputs': sandboxInputsHash(imageDefaults),
      'safe-coder.packages': [...imageDefaults.packages].sort().join(','),
    })

    const script = [
      'git --version',
      'rg --version | head -n 1',
      'bash -c "echo bash \\$BASH_VERSION"',
      'stat -c "%a %n" /workspace /tmp',
      'pwd',
      'touch /workspace/probe',
      'test ! -e /usr/share/man/man1 || test -z "$(ls /usr/share/man/man1)"',
    ].join(' && ')
    const run = await runInImage(docker, SANDBOX_IMAGE, ['sh', '-c', script], {
      user: '65534:65534',
    })
    expect(run.exitCode, run.output).toBe(0)
    expect(run.output).toMatch(/^git version \d/m)
    expect(run.output).toMatch(/^ripgrep \d/m)
    expect(run.output).toMatch(/^bash \d/m)
    expect(run.output).toContain('1777 /workspace\n1777 /tmp\n/workspace\n')
  }, 900_000)

  it('reuses the image when the inputs are unchanged', async () => {
    const result = await buildSandboxImage({ docker, tag: SANDBOX_IMAGE, ...imageDefaults })
    expect(result.reused).toBe(true)
    expect(result.durationMs).toBeLessThan(5000)
  })

  it('stops debootstrap on abort and leaves no tree or mount behind', async () => {
    const controller = new AbortController()
    let buildDir: string | undefined
    const building = buildSandboxImage({
      docker,
      tag: `safe-coder-test/sandbox:aborted-${run}`,
      ...imageDefaults,
      force: true,
      signal: controller.signal,
      onProgress: (step, detail = '') => {
        buildDir ??= /into (\/\S+)$/.exec(detail)?.[1]
        if (step === 'debootstrap' && detail.startsWith('Unpacking')) controller.abort()
      },
    })
    const error = await rejection(building)
    expect(error.code).toBe('ABORTED')
    expect(buildDir).toBeDefined()
    expect(existsSync(buildDir ?? '/')).toBe(false)
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(buildDir)
  }, 600_000)
})
