import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import { SafeCoderError, errnoOf } from '../../shared/errors.js'

/** A directory to build a root filesystem in, and whether we own its removal. */
export interface BuildDir {
  root: string
  temporary: boolean
}

// A caller-given directory is kept (the microVM image can reuse the tree); ours is temporary.
export async function createBuildDir(workDir?: string): Promise<BuildDir> {
  if (workDir === undefined) {
    return { root: await mkdtemp(path.join(os.tmpdir(), 'safe-coder-rootfs-')), temporary: true }
  }
  await mkdir(workDir, { recursive: true })
  if ((await readdir(workDir)).length > 0) {
    throw new SafeCoderError('IMAGE_BUILD_FAILED', `Build directory ${workDir} is not empty.`, {
      hint: 'Give an empty or missing directory, or leave the work directory unset.',
    })
  }
  return { root: path.resolve(workDir), temporary: false }
}

/**
 * Removes a build tree. debootstrap mounts /proc and /sys inside it and an interrupted run
 * leaves them mounted; a recursive delete must never descend into those.
 */
export async function removeBuildTree(root: string): Promise<void> {
  for (const mount of await mountsUnder(root)) {
    await execa('umount', ['--lazy', mount], { reject: false })
  }
  const left = await mountsUnder(root)
  if (left.length > 0) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `Cannot remove ${root}: ${left[0]} is mounted.`,
      {
        hint: `Unmount it (umount --lazy ${left[0]}) and delete ${root} by hand.`,
      },
    )
  }
  await rm(root, { recursive: true, force: true })
}

// Deepest first, so nested mounts come off before their parents.
async function mountsUnder(root: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  const prefix = `${path.resolve(root)}/`
  return table
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((mount) => mount.startsWith(prefix))
    .sort((a, b) => b.length - a.length)
}

function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  )
}

/** What goes from a fresh debootstrap tree: indexes, caches, logs, docs and translations. */
const trimmed: { dir: string; keep?: (name: string, isDir: boolean) => boolean }[] = [
  { dir: 'var/lib/apt/lists', keep: (name) => name === 'partial' || name === 'lock' },
  { dir: 'var/cache/apt', keep: (name) => name === 'archives' },
  { dir: 'var/cache/apt/archives', keep: (name) => name === 'partial' || name === 'lock' },
  { dir: 'var/cache/debconf', keep: (name) => !name.endsWith('-old') },
  { dir: 'var/lib/dpkg', keep: (name) => !name.endsWith('-old') },
  { dir: 'var/log', keep: (_, isDir) => isDir },
  { dir: 'var/log/apt', keep: (_, isDir) => isDir },
  { dir: 'usr/share/man' },
  { dir: 'usr/share/info' },
  { dir: 'usr/share/lintian' },
  { dir: 'usr/share/locale', keep: (name) => name === 'locale.alias' },
  { dir: 'usr/share/doc', keep: (_, isDir) => isDir },
]

// Keeps the image small; copyright files stay because the licences require them.
export async function trimRootfs(root: string): Promise<void> {
  for (const { dir, keep } of trimmed) {
    const target = await realDirUnder(root, dir)
    if (target === undefined) continue
    for (const entry of await readdir(target, { withFileTypes: true })) {
      const full = path.join(target, entry.name)
      if (keep?.(entry.name, entry.isDirectory()) !== true) {
        await rm(full, { recursive: true, force: true })
      } else if (dir === 'usr/share/doc') {
        await trimDocDir(full)
      }
    }
  }
  await dropDocsOnFutureInstalls(root)
}

async function trimDocDir(docDir: string): Promise<void> {
  for (const name of await readdir(docDir)) {
    if (name !== 'copyright') await rm(path.join(docDir, name), { recursive: true, force: true })
  }
}

// Packages the agent installs later stay small too.
async function dropDocsOnFutureInstalls(root: string): Promise<void> {
  const dpkgConf = await realDirUnder(root, 'etc/dpkg/dpkg.cfg.d')
  if (dpkgConf === undefined) return
  const rules = [
    'path-exclude=/usr/share/doc/*',
    'path-include=/usr/share/doc/*/copyright',
    'path-exclude=/usr/share/man/*',
    'path-exclude=/usr/share/info/*',
    'path-exclude=/usr/share/locale/*',
    'path-include=/usr/share/locale/locale.alias',
    'path-exclude=/usr/share/lintian/*',
  ]
  await writeFile(path.join(dpkgConf, 'safe-coder-nodoc'), `${rules.join('\n')}\n`)
}

// The sandbox contract: /workspace and /tmp exist and anyone may write there.
export async function createSandboxDirs(root: string): Promise<void> {
  for (const dir of ['workspace', 'tmp']) {
    const target = path.join(root, dir)
    await mkdir(target, { recursive: true })
    await chmod(target, 0o1777)
  }
}

/**
 * `root/relative` when every component is a real directory. The tree is a guest system: an
 * absolute symlink inside it points into the host, and deleting through it would hit the host.
 */
async function realDirUnder(root: string, relative: string): Promise<string | undefined> {
  let current = root
  for (const part of relative.split('/')) {
    current = path.join(current, part)
    try {
      const entry = await lstat(current)
      if (!entry.isDirectory()) return undefined
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined
      throw error
    }
  }
  return current
}
