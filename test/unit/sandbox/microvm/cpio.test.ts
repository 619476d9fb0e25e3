import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CpioBuilder, cpioPath, writeCpio } from '../../../../src/sandbox/microvm/image/cpio.js'

const hasCpio = spawnSync('cpio', ['--version']).status === 0
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sc-cpio-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

function sample(): CpioBuilder {
  return new CpioBuilder()
    .file('bin/busybox', Buffer.from('\x7fELF fake busybox'), 0o755)
    .symlink('bin/sh', 'busybox')
    .file('init', '#!/bin/sh\necho hi\n', 0o755)
    .file('lib/modules/ext4.ko', Buffer.alloc(4097, 7))
    .file('etc/empty', '')
    .file('odd name/with spaces', 'x')
    .dir('proc')
    .add({ kind: 'char', path: 'dev/console', major: 5, minor: 1, mode: 0o600 })
}

/** Parses newc records back (the format check independent of the host's cpio). */
function parseNewc(bytes: Buffer): { name: string; mode: number; size: number }[] {
  const out: { name: string; mode: number; size: number }[] = []
  let at = 0
  const align = (n: number): number => (n + 3) & ~3
  for (;;) {
    expect(bytes.toString('ascii', at, at + 6)).toBe('070701')
    const field = (i: number): number =>
      parseInt(bytes.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16)
    const mode = field(1)
    const size = field(6)
    const namesize = field(11)
    const name = bytes.toString('utf8', at + 110, at + 110 + namesize - 1)
    expect(bytes[at + 110 + namesize - 1]).toBe(0)
    at = align(at + 110 + namesize)
    at = align(at + size)
    if (name === 'TRAILER!!!') break
    out.push({ name, mode, size })
  }
  expect(at).toBe(bytes.length)
  return out
}

describe('cpio newc writer', () => {
  it('writes 4-byte aligned records, parents before children, and a trailer', () => {
    const bytes = sample().build()
    expect(bytes.length % 4).toBe(0)
    const records = parseNewc(bytes)
    const names = records.map((r) => r.name)
    expect(names.indexOf('bin')).toBeLessThan(names.indexOf('bin/busybox'))
    expect(names.indexOf('lib')).toBeLessThan(names.indexOf('lib/modules'))
    expect(names.indexOf('lib/modules')).toBeLessThan(names.indexOf('lib/modules/ext4.ko'))
    expect(records.find((r) => r.name === 'dev/console')?.mode).toBe(0o020600)
    expect(records.find((r) => r.name === 'bin/sh')?.mode).toBe(0o120777)
    expect(records.find((r) => r.name === 'lib/modules/ext4.ko')?.size).toBe(4097)
  })

  it('is deterministic', () => {
    expect(sample().build().equals(sample().build())).toBe(true)
  })

  it('gzips on request', () => {
    const plain = sample().build()
    const gz = sample().build({ gzip: true })
    expect(gz[0]).toBe(0x1f)
    expect(gunzipSync(gz).equals(plain)).toBe(true)
  })

  it('rejects bad paths and duplicates', () => {
    expect(() => cpioPath('../etc')).toThrow(/\.\./)
    expect(() => cpioPath('/')).toThrow(/empty/)
    expect(cpioPath('/a//b/./c')).toBe('a/b/c')
    expect(() => new CpioBuilder().file('a', 'x').file('a', 'y')).toThrow(/duplicate/)
    expect(() => new CpioBuilder().file('a', 'x').file('a/b', 'y')).toThrow(/not a directory/)
    // A directory named after it was implied by a child is fine.
    expect(() => new CpioBuilder().file('d/x', '').dir('d')).not.toThrow()
  })

  it('writes only what it is given with writeCpio', () => {
    const bytes = writeCpio([{ kind: 'file', path: 'a', data: Buffer.from('abc') }])
    expect(parseNewc(bytes).map((r) => r.name)).toEqual(['a'])
  })

  describe.skipIf(!hasCpio)('read back by the host cpio', () => {
    it('lists every entry (cpio -t)', async () => {
      const file = path.join(dir, 'list.cpio')
      await writeFile(file, sample().build())
      const listed = execFileSync('cpio', ['-t', '--quiet', '-F', file], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .sort()
      expect(listed).toEqual(
        [
          'bin',
          'bin/busybox',
          'bin/sh',
          'init',
          'lib',
          'lib/modules',
          'lib/modules/ext4.ko',
          'etc',
          'etc/empty',
          'odd name',
          'odd name/with spaces',
          'proc',
          'dev',
          'dev/console',
        ].sort(),
      )
    })

    it('extracts files, modes and links (cpio -i)', async () => {
      const out = await mkdtemp(path.join(dir, 'x-'))
      const bytes = sample().build()
      execFileSync('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], {
        cwd: out,
        input: bytes,
      })
      expect(await readFile(path.join(out, 'init'), 'utf8')).toBe('#!/bin/sh\necho hi\n')
      expect((await lstat(path.join(out, 'init'))).mode & 0o7777).toBe(0o755)
      expect(await readlink(path.join(out, 'bin/sh'))).toBe('busybox')
      expect(
        (await readFile(path.join(out, 'lib/modules/ext4.ko'))).equals(Buffer.alloc(4097, 7)),
      ).toBe(true)
      expect(await readFile(path.join(out, 'odd name/with spaces'), 'utf8')).toBe('x')
      expect((await lstat(path.join(out, 'etc/empty'))).size).toBe(0)
      if (process.getuid?.() === 0) {
        const console = await lstat(path.join(out, 'dev/console'))
        expect(console.isCharacterDevice()).toBe(true)
      }
      expect(existsSync(path.join(out, 'proc'))).toBe(true)
    })
  })
})
