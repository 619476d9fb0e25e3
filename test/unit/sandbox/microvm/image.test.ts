import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildGuestImage,
  guestImageStatus,
  loadGuestImage,
} from '../../../../src/sandbox/microvm/image/build.js'
import { hashTreeContent, treeUsage } from '../../../../src/sandbox/microvm/image/fs-walk.js'
import {
  AGENT_MARKER,
  stage1Script,
  stage2Script,
} from '../../../../src/sandbox/microvm/image/init-scripts.js'
import {
  buildInitramfs,
  readStaticBusybox,
} from '../../../../src/sandbox/microvm/image/initramfs.js'
import { rootfsSizeBytes } from '../../../../src/sandbox/microvm/image/rootfs.js'
import { AGENT_SERIAL_NAME, AGENT_VSOCK_PORT } from '../../../../src/sandbox/microvm/types.js'
import { SafeCoderError } from '../../../../src/shared/errors.js'

const MIB = 1024 * 1024
const hasBusybox = existsSync('/bin/busybox')
const busybox = '/bin/busybox'
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sc-image-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('boot scripts', () => {
  it('stage 1 loads the modules in the order given, then switches root', () => {
    const script = stage1Script(['a.ko', 'b.ko', 'c.ko'])
    expect(script.indexOf('load a.ko')).toBeLessThan(script.indexOf('load b.ko'))
    expect(script.indexOf('load b.ko')).toBeLessThan(script.indexOf('load c.ko'))
    expect(script).toMatch(/mount -t ext4 -o ro,noload "\$root" \/run\/ro/)
    expect(script).toMatch(/mount -t overlay .*lowerdir=\/run\/ro,upperdir=\/run\/rw\/upper/)
    expect(script).toMatch(/ip link set lo up/)
    expect(script).toMatch(/exec switch_root \/newroot/)
  })

  it('stage 2 finds the named port, prints the marker, and powers off after the agent', () => {
    const script = stage2Script()
    expect(script).toContain(AGENT_SERIAL_NAME)
    expect(script).toContain(`VSOCK-LISTEN:${AGENT_VSOCK_PORT}`)
    expect(script).toContain(`echo "${AGENT_MARKER}"`)
    expect(script).toContain('--device "$port" --root /workspace')
    expect(script).toContain('--stdio --root /workspace')
    expect(script).toMatch(/socat is not installed/)
    expect(script.lastIndexOf('stop_vm')).toBeGreaterThan(script.indexOf(AGENT_MARKER))
    expect(script).toMatch(/\$bb reboot -f/)
  })

  it.skipIf(!hasBusybox)('both parse as busybox sh scripts', async () => {
    for (const [name, text] of [
      ['stage1', stage1Script(['x.ko'])],
      ['stage2', stage2Script()],
    ] as const) {
      const file = path.join(dir, name)
      await writeFile(file, text)
      const out = spawnSync(busybox, ['sh', '-n', file], { encoding: 'utf8' })
      expect(out.stderr, name).toBe('')
      expect(out.status, name).toBe(0)
    }
  })
})

describe.skipIf(!hasBusybox)('initramfs', () => {
  it('holds busybox with applet links, the modules, /dev/console and /init', async () => {
    const bb = await readStaticBusybox(busybox)
    expect(bb.applets).toContain('switch_root')
    const ko = path.join(dir, 'fake.ko')
    await writeFile(ko, 'module bytes')
    const { bytes, init } = await buildInitramfs({
      busybox: bb,
      modules: [{ name: 'fake', file: ko, depends: [] }],
    })
    expect(init).toContain('load fake.ko')
    if (spawnSync('cpio', ['--version']).status !== 0) return
    const listing = execFileSync('cpio', ['-t', '-v', '--quiet'], {
      input: bytes,
      encoding: 'utf8',
    })
    expect(listing).toMatch(/^-rwxr-xr-x .* init$/m)
    expect(listing).toMatch(/^-rwxr-xr-x .* bin\/busybox$/m)
    expect(listing).toMatch(/^lrwxrwxrwx .* bin\/sh -> busybox$/m)
    expect(listing).toMatch(/^crw------- .* dev\/console$/m)
    expect(listing).toMatch(/lib\/modules\/fake\.ko$/m)
  })

  it('refuses a dynamically linked busybox', async () => {
    const error = await readStaticBusybox(process.execPath).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).message).toMatch(/dynamically linked/)
    expect((error as SafeCoderError).hint).toMatch(/busybox-static/)
  })
})

describe('sizes', () => {
  it('sizes the root image to its content plus slack', () => {
    const size = rootfsSizeBytes({ blockBytes: 300 * MIB, inodes: 10_000 })
    expect(size % MIB).toBe(0)
    expect(size).toBeGreaterThan(300 * MIB + 64 * MIB)
    expect(size).toBeLessThan(450 * MIB)
  })

  it('counts blocks and inodes of a tree, hard links once', async () => {
    const tree = path.join(dir, 'usage')
    await mkdir(path.join(tree, 'sub'), { recursive: true })
    await writeFile(path.join(tree, 'a'), Buffer.alloc(5000))
    await writeFile(path.join(tree, 'sub', 'b'), '')
    execFileSync('ln', [path.join(tree, 'a'), path.join(tree, 'sub', 'hard')])
    const usage = await treeUsage(tree)
    expect(usage.inodes).toBe(4) // root, a (+hard), sub, b
    expect(usage.blockBytes).toBe(4096 + 8192 + 4096)
  })

  it('hashes a tree by path, mode and content', async () => {
    const tree = path.join(dir, 'hash')
    await mkdir(tree, { recursive: true })
    await writeFile(path.join(tree, 'main.js'), 'one')
    const first = await hashTreeContent(tree)
    expect(await hashTreeContent(tree)).toBe(first)
    await writeFile(path.join(tree, 'main.js'), 'two')
    expect(await hashTreeContent(tree)).not.toBe(first)
  })
})

describe('image cache', () => {
  it('ignores partial or foreign directories', async () => {
    const cache = path.join(dir, 'cache')
    await mkdir(path.join(cache, 'partial'), { recursive: true })
    await writeFile(path.join(cache, 'partial', 'image.json'), JSON.stringify({ format: 1 }))
    await mkdir(path.join(cache, 'junk'), { recursive: true })
    expect(await loadGuestImage(path.join(cache, 'partial'))).toBeUndefined()
    expect(await loadGuestImage(path.join(cache, 'missing'))).toBeUndefined()
    const status = await guestImageStatus(cache)
    expect(status.images).toEqual([])
    expect(status.cacheDir).toBe(cache)
    expect(Array.isArray(status.buildProblems)).toBe(true)
  })

  it('says the agent is missing before doing anything expensive', async () => {
    const agentDir = path.join(dir, 'no-agent')
    await mkdir(agentDir, { recursive: true })
    const error = await buildGuestImage({
      cacheDir: path.join(dir, 'cache2'),
      tree: { dir: agentDir, id: 'x' },
      agentDir,
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SafeCoderError)
    expect((error as SafeCoderError).code).toBe('IMAGE_BUILD_FAILED')
    expect((error as SafeCoderError).message).toMatch(/main\.js/)
    expect((error as SafeCoderError).hint).toMatch(/npm run build/)
    expect(existsSync(path.join(dir, 'cache2'))).toBe(false)
  })
})

describe('pruneGuestImages', () => {
  it('keeps the newest images and the ones asked for', async () => {
    const { pruneGuestImages } = await import('../../../../src/sandbox/microvm/image/build.js')
    const cache = path.join(dir, 'prune')
    const make = async (name: string, createdAt: string): Promise<string> => {
      const image = path.join(cache, name)
      await mkdir(image, { recursive: true })
      for (const file of ['vmlinux', 'initrd.cpio', 'rootfs.ext4'])
        await writeFile(path.join(image, file), 'x')
      await writeFile(
        path.join(image, 'image.json'),
        JSON.stringify({
          format: 1,
          inputs: name,
          kernelRelease: '6.1',
          createdAt,
          sizes: { kernel: 1, initrd: 1, rootfs: 1 },
        }),
      )
      return image
    }
    const oldest = await make('a', '2020-01-01T00:00:00Z')
    const middle = await make('b', '2021-01-01T00:00:00Z')
    const newest = await make('c', '2022-01-01T00:00:00Z')
    await mkdir(path.join(cache, '.build-abc-999999999-0a0b'), { recursive: true })
    expect(await pruneGuestImages(cache, { keep: 1, except: [oldest] })).toEqual([middle])
    expect(existsSync(newest)).toBe(true)
    expect(existsSync(oldest)).toBe(true)
    expect(existsSync(path.join(cache, '.build-abc-999999999-0a0b'))).toBe(false)
  })
})
