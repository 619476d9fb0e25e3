import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  createBuildDir,
  createSandboxDirs,
  removeBuildTree,
  trimRootfs,
} from '../../../src/sandbox/docker/image-rootfs.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-rootfs-test-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function put(root: string, relative: string, content = 'x'): Promise<void> {
  await mkdir(path.dirname(path.join(root, relative)), { recursive: true })
  await writeFile(path.join(root, relative), content)
}

describe('trimRootfs', () => {
  it('drops indexes, caches, logs, docs and translations, keeping copyright files', async () => {
    const root = await tempDir()
    const gone = [
      'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease',
      'var/cache/apt/pkgcache.bin',
      'var/cache/apt/archives/git_2.39_amd64.deb',
      'var/log/dpkg.log',
      'var/log/apt/history.log',
      'var/lib/dpkg/status-old',
      'usr/share/man/man1/git.1.gz',
      'usr/share/info/dir',
      'usr/share/locale/de/LC_MESSAGES/git.mo',
      'usr/share/doc/git/changelog.gz',
    ]
    const kept = [
      'var/lib/apt/lists/lock',
      'var/cache/apt/archives/lock',
      'var/lib/dpkg/status',
      'usr/share/locale/locale.alias',
      'usr/share/doc/git/copyright',
      'usr/bin/git',
    ]
    for (const file of [...gone, ...kept]) await put(root, file)
    await mkdir(path.join(root, 'var/lib/apt/lists/partial'), { recursive: true })
    await mkdir(path.join(root, 'etc/dpkg/dpkg.cfg.d'), { recursive: true })

    await trimRootfs(root)

    for (const file of gone) expect(existsSync(path.join(root, file)), file).toBe(false)
    for (const file of kept) expect(existsSync(path.join(root, file)), file).toBe(true)
    expect(existsSync(path.join(root, 'var/lib/apt/lists/partial'))).toBe(true)
    const nodoc = await readFile(path.join(root, 'etc/dpkg/dpkg.cfg.d/safe-coder-nodoc'), 'utf8')
    expect(nodoc).toContain('path-exclude=/usr/share/doc/*')
  })

  it('never follows a symlink out of the tree', async () => {
    const root = await tempDir()
    const outside = await tempDir()
    await put(outside, 'precious.log')
    await mkdir(path.join(root, 'var'), { recursive: true })
    await symlink(outside, path.join(root, 'var/log'))

    await trimRootfs(root)

    expect(existsSync(path.join(outside, 'precious.log'))).toBe(true)
  })
})

describe('createSandboxDirs', () => {
  it('makes /workspace and /tmp world-writable with the sticky bit', async () => {
    const root = await tempDir()
    await createSandboxDirs(root)
    for (const dir of ['workspace', 'tmp']) {
      expect((await stat(path.join(root, dir))).mode & 0o7777).toBe(0o1777)
    }
  })
})

describe('createBuildDir and removeBuildTree', () => {
  it('makes a temporary directory by default and removes it', async () => {
    const build = await createBuildDir()
    expect(build.temporary).toBe(true)
    await put(build.root, 'usr/bin/sh')
    await removeBuildTree(build.root)
    expect(existsSync(build.root)).toBe(false)
  })

  it('keeps a given directory, which must be empty', async () => {
    const parent = await tempDir()
    const build = await createBuildDir(path.join(parent, 'rootfs'))
    expect(build).toEqual({ root: path.join(parent, 'rootfs'), temporary: false })

    await put(parent, 'rootfs/leftover')
    const error = await createBuildDir(path.join(parent, 'rootfs')).catch((e: unknown) => e)
    expect(isSafeCoderError(error, 'IMAGE_BUILD_FAILED')).toBe(true)
  })
})
