import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { ImageInspectInfo } from 'dockerode'
import { execa } from 'execa'
import { describe, expect, it, onTestFinished } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { findHostNode, parseLoaderList } from '../../../src/sandbox/docker/host-node.js'
import {
  PROXY_LAYER,
  PROXY_LAYER_DIGEST,
  whyNotProxyImage,
} from '../../../src/sandbox/docker/proxy-image.js'
import { tarArchive } from '../../../src/sandbox/docker/tar-archive.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'

async function tarList(archive: Buffer): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-tar-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'a.tar')
  await writeFile(file, archive)
  const listed = await execa('tar', ['--numeric-owner', '-tvf', file])
  return listed.stdout.split('\n').map((line) => line.replace(/\s+/g, ' '))
}

describe('tarArchive', () => {
  it('writes a ustar archive GNU tar reads back, the same bytes every time', async () => {
    const entries = [
      { type: 'dir', path: 'etc', mode: 0o755 },
      { type: 'file', path: 'etc/x', mode: 0o640, content: 'héllo\n' },
      { type: 'dir', path: 'tmp/', mode: 0o1777 },
    ] as const
    const archive = tarArchive(entries)
    expect(archive.length % 512).toBe(0)
    expect(tarArchive(entries).equals(archive)).toBe(true)
    expect(await tarList(archive)).toEqual([
      'drwxr-xr-x 0/0 0 1970-01-01 00:00 etc/',
      '-rw-r----- 0/0 7 1970-01-01 00:00 etc/x',
      'drwxrwxrwt 0/0 0 1970-01-01 00:00 tmp/',
    ])
  })

  it('refuses names that are absolute, climb out or do not fit', () => {
    for (const name of ['/etc/passwd', '../x', 'a/../../b', 'x'.repeat(101)]) {
      expect(() => tarArchive([{ type: 'file', path: name, mode: 0o644, content: '' }])).toThrow(
        RangeError,
      )
    }
  })
})

describe('the proxy image', () => {
  const ours = (over: Partial<ImageInspectInfo['Config']> = {}, layers = [PROXY_LAYER_DIGEST]) =>
    ({
      Id: 'sha256:x',
      RootFS: { Type: 'layers', Layers: layers },
      Config: { Env: null, Volumes: null, ...over },
    }) as unknown as ImageInspectInfo

  it('its digest is the sha256 of its one layer, which holds no program', async () => {
    expect(PROXY_LAYER_DIGEST).toBe(
      `sha256:${createHash('sha256').update(PROXY_LAYER).digest('hex')}`,
    )
    const files = (await tarList(PROXY_LAYER)).filter((l) => l.startsWith('-'))
    expect(files.map((l) => l.split(' ').at(-1))).toEqual([
      'etc/group',
      'etc/nsswitch.conf',
      'etc/passwd',
    ])
  })

  it('is recognised by its content and configuration, never by its name', () => {
    expect(whyNotProxyImage(ours())).toBeUndefined()
    expect(whyNotProxyImage(ours({ Env: ['PATH=/x', 'HOME=/tmp'] }))).toBeUndefined()
    expect(whyNotProxyImage(ours({}, ['sha256:other']))).toMatch(/layers are not Safe Coder's/)
    expect(whyNotProxyImage(ours({}, [PROXY_LAYER_DIGEST, 'sha256:more']))).toMatch(/2 layer/)
    expect(whyNotProxyImage(ours({ Env: ['NODE_OPTIONS=--require /evil.js'] }))).toMatch(
      /environment variables \(NODE_OPTIONS=/,
    )
    expect(whyNotProxyImage(ours({ Env: ['LD_PRELOAD=/evil.so'] }))).toMatch(/LD_PRELOAD/)
    const health = { Healthcheck: { Test: ['CMD', '/opt/safe-coder/node', '/evil.js'] } }
    expect(whyNotProxyImage(ours(health))).toMatch(/health check/)
    expect(whyNotProxyImage(ours({ Healthcheck: { Test: ['NONE'] } }))).toBeUndefined()
    expect(whyNotProxyImage(ours({ Volumes: { '/opt/safe-coder': {} } }))).toMatch(/volumes/)
  })
})

describe("the host's Node", () => {
  it('finds the loader and every library `ld.so --list` names, as real host files', async () => {
    const node = await findHostNode()
    expect(path.isAbsolute(node.binary)).toBe(true)
    expect(node.interpreter?.target).toMatch(/^\/lib.*\/ld-linux[^/]*\.so\.\d$/)
    const names = node.libraries.map((l) => l.name)
    expect(names).toContain('libc.so.6')
    for (const lib of node.libraries) expect(path.isAbsolute(lib.source)).toBe(true)
  })

  it('reads the arrow lines of ld.so --list and names a missing library', () => {
    const listed = [
      '\tlinux-vdso.so.1 (0x00007ffd1b1f2000)',
      '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f43a4eae000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f43a493e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f43a4ec9000)',
    ].join('\n')
    expect(parseLoaderList(listed)).toEqual([
      { name: 'libdl.so.2', source: '/lib/x86_64-linux-gnu/libdl.so.2' },
      { name: 'libc.so.6', source: '/lib/x86_64-linux-gnu/libc.so.6' },
    ])
    let error: unknown
    try {
      parseLoaderList('\tlibgone.so.1 => not found\n')
    } catch (e) {
      error = e
    }
    expect(isSafeCoderError(error) && error.message).toBe(
      "Node's shared library libgone.so.1 was not found.",
    )
  })
})
