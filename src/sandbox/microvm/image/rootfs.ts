import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readFile,
  readdir,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { SafeCoderError } from '../../../shared/errors.js'
import { treeUsage } from './fs-walk.js'
import {
  GUEST_AGENT_DIR,
  GUEST_BUSYBOX,
  GUEST_HOSTNAME,
  GUEST_NODE,
  GUEST_STAGE2,
  stage2Script,
} from './init-scripts.js'
import { findTool, requireTool, runTool } from './tools.js'

/**
 * The guest's root filesystem: the same Debian tree as the container image, plus Safe Coder's
 * own files under /opt/safe-coder (the host's Node binary, the guest agent, a static busybox
 * and the stage-2 init), written into an ext4 image by `mkfs.ext4 -d` (no loop mount, no
 * root needed for that step). The image is read-only and shared by every VM: each guest puts a
 * tmpfs overlay on top.
 */

export const ROOTFS_LABEL = 'sc-root'
const MIB = 1024 * 1024

export interface RootfsOptions {
  /** The Debian tree. Left untouched unless `treeIsScratch`. */
  tree: string
  /** The tree is a throwaway copy we may modify in place (saves a hard-link copy). */
  treeIsScratch: boolean
  /** A scratch directory on the same filesystem as `tree` when it must be copied. */
  scratchDir: string
  out: string
  nodeBinary: string
  agentDir: string
  busybox: Buffer
  signal?: AbortSignal
}

export interface RootfsResult {
  sizeBytes: number
  contentBytes: number
}

/** Copies `tree` as hard links (cheap; falls back to a real copy across filesystems). */
async function stageTree(tree: string, into: string, signal?: AbortSignal): Promise<void> {
  const cp = await requireTool('cp', 'to stage the guest root')
  const linked = await execa(cp, ['-al', `${tree}/.`, into], {
    reject: false,
    cancelSignal: signal,
  })
  if (linked.exitCode === 0) return
  await rm(into, { recursive: true, force: true })
  await runTool(cp, ['-a', `${tree}/.`, into], {
    what: `Copying ${tree}`,
    ...(signal === undefined ? {} : { signal }),
  })
}

/** Writes a new file, first unlinking whatever is there (it may be a hard link into the tree). */
async function replaceFile(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  await rm(file, { force: true })
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, data, { mode })
  await chmod(file, mode)
}

/** Copies the agent's regular files (root-owned, no write bits for others), skipping links. */
async function copyAgent(from: string, to: string): Promise<number> {
  let files = 0
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(from, rel), { withFileTypes: true })) {
      const child = path.join(rel, entry.name)
      if (entry.isDirectory()) {
        await mkdir(path.join(to, child), { recursive: true, mode: 0o755 })
        await walk(child)
      } else if (entry.isFile()) {
        const mode = (await stat(path.join(from, child))).mode & 0o755
        await replaceFile(
          path.join(to, child),
          await readFile(path.join(from, child)),
          mode | 0o444,
        )
        files++
      }
    }
  }
  await mkdir(to, { recursive: true, mode: 0o755 })
  await walk('')
  return files
}

/** Lays Safe Coder's files into a staged tree (the layout both boot stages rely on). */
export async function addGuestFiles(
  root: string,
  options: { nodeBinary: string; agentDir: string; busybox: Buffer },
): Promise<void> {
  const inRoot = (p: string): string => path.join(root, ...p.split('/').filter(Boolean))
  await rm(inRoot('/.dockerenv'), { force: true })
  await replaceFile(inRoot('/etc/hostname'), `${GUEST_HOSTNAME}\n`, 0o644)
  await replaceFile(
    inRoot('/etc/hosts'),
    `127.0.0.1\tlocalhost\n127.0.1.1\t${GUEST_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    0o644,
  )
  await replaceFile(inRoot('/etc/resolv.conf'), '', 0o644)
  for (const dir of ['/proc', '/sys', '/dev', '/run', '/tmp', '/workspace']) {
    await mkdir(inRoot(dir), { recursive: true })
  }
  await chmod(inRoot('/tmp'), 0o1777)
  await rm(inRoot(path.posix.dirname(GUEST_NODE)), { recursive: true, force: true })
  await mkdir(inRoot(path.posix.dirname(GUEST_BUSYBOX)), { recursive: true, mode: 0o755 })
  await copyFile(options.nodeBinary, inRoot(GUEST_NODE))
  await chmod(inRoot(GUEST_NODE), 0o755)
  await replaceFile(inRoot(GUEST_BUSYBOX), options.busybox, 0o755)
  await replaceFile(inRoot(GUEST_STAGE2), stage2Script(), 0o755)
  const agentFiles = await copyAgent(options.agentDir, inRoot(GUEST_AGENT_DIR))
  const packageJson = inRoot(`${GUEST_AGENT_DIR}/package.json`)
  if ((await lstat(packageJson).catch(() => undefined)) === undefined) {
    await replaceFile(packageJson, '{"type":"module"}\n', 0o644)
  }
  if (
    agentFiles === 0 ||
    (await lstat(inRoot(`${GUEST_AGENT_DIR}/main.js`)).catch(() => undefined)) === undefined
  ) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `The guest agent directory ${options.agentDir} has no main.js.`,
      { hint: 'Build Safe Coder first (npm run build), which writes dist/guest/main.js.' },
    )
  }
}

/**
 * Checks that the copied Node runs against the tree's own libc (chroot; root only). A Node
 * built for a newer glibc than the image's would otherwise fail only inside the VM.
 */
export async function checkNodeRuns(root: string, signal?: AbortSignal): Promise<void> {
  const chroot = await findTool('chroot')
  if (process.getuid?.() !== 0 || chroot === undefined) return
  const result = await execa(
    chroot,
    [root, GUEST_NODE, '-e', 'process.stdout.write(process.version)'],
    {
      reject: false,
      cancelSignal: signal,
      stdin: 'ignore',
      timeout: 60_000,
    },
  )
  if (result.exitCode !== 0) {
    throw new SafeCoderError(
      'IMAGE_BUILD_FAILED',
      `The host's Node binary does not run in the guest root: ${(result.stderr || (result.message ?? '')).trim().split('\n')[0] ?? ''}`,
      {
        hint: 'The image tree needs the C library Node was built against: use a Node build for this Debian release, or a newer image suite.',
      },
    )
  }
}

/** ext4 size for a tree: content blocks + inode tables + 10 % + 64 MiB, in whole MiB. */
export function rootfsSizeBytes(usage: { blockBytes: number; inodes: number }): number {
  const bytes = usage.blockBytes * 1.1 + usage.inodes * 256 * 1.3 + 64 * MIB
  return Math.ceil(bytes / MIB) * MIB
}

export async function buildRootfs(options: RootfsOptions): Promise<RootfsResult> {
  const mkfs = await requireTool('mkfs.ext4', 'to write the guest root filesystem')
  let root = options.tree
  if (!options.treeIsScratch) {
    root = path.join(options.scratchDir, 'root')
    await mkdir(root, { recursive: true })
    await stageTree(options.tree, root, options.signal)
  }
  await addGuestFiles(root, options)
  await checkNodeRuns(root, options.signal)
  const usage = await treeUsage(root)
  const size = rootfsSizeBytes(usage)
  await rm(options.out, { force: true })
  await writeFile(options.out, '')
  await truncate(options.out, size)
  await runTool(
    mkfs,
    [
      '-F',
      '-q',
      '-t',
      'ext4',
      '-L',
      ROOTFS_LABEL,
      // Read-only image: no journal and no reserved blocks.
      '-O',
      '^has_journal',
      '-m',
      '0',
      '-b',
      '4096',
      '-N',
      String(Math.ceil(usage.inodes * 1.2) + 1024),
      '-E',
      'lazy_itable_init=1',
      '-d',
      root,
      options.out,
    ],
    {
      what: 'mkfs.ext4 -d (guest root filesystem)',
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    },
  )
  await chmod(options.out, 0o444)
  return { sizeBytes: size, contentBytes: usage.blockBytes }
}
