import { mkdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { createBenchTree } from './copy-in.js'
import { gitEnv, seeded } from './lib.js'

/** A generated project for whole-CLI benches and where its extras went. */
export interface CliTree {
  project: string
  /** Tracked text files an edit may append to. */
  textFiles: string[]
}

/** Binary bytes (a PNG-like header, then NULs and noise) of `bytes` length. */
function binaryBytes(bytes: number, random: () => number): Uint8Array {
  const data = new Uint8Array(bytes)
  data.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])
  for (let i = 12; i < bytes; i++) data[i] = random() < 0.2 ? 0 : Math.floor(random() * 256)
  return data
}

/**
 * The copy-in bench tree (small source files in nested packages, untracked files, an ignored
 * node_modules) with what a real repository also holds: binaries (images, a font) and
 * symlinks, so `count` tracked-or-untracked files in all, roughly like a mid-sized repository.
 */
export async function createCliTree(root: string, count: number): Promise<CliTree> {
  const binaries = Math.round(count / 100)
  const links = Math.round(count / 200)
  const { project } = await createBenchTree(root, count - binaries - links)
  const random = seeded(7)
  for (let i = 0; i < binaries; i++) {
    const dir = path.join(project, 'assets', `set-${i % 8}`)
    await mkdir(dir, { recursive: true })
    const size = 512 + Math.floor(random() * 48 * 1024)
    await writeFile(
      path.join(dir, `image-${i}.${i % 10 === 0 ? 'woff2' : 'png'}`),
      binaryBytes(size, random),
    )
  }
  const { stdout } = await execa('git', ['ls-files', '*.ts'], { cwd: project, env: gitEnv })
  const textFiles = stdout.trim().split('\n')
  for (let i = 0; i < links; i++) {
    const target = textFiles[Math.floor((i * textFiles.length) / links)] ?? 'README.md'
    const link = path.join(project, 'links', `pkg-${i % 24}`, `link-${i}.ts`)
    await mkdir(path.dirname(link), { recursive: true })
    await symlink(path.relative(path.dirname(link), path.join(project, target)), link)
  }
  await execa('git', ['add', '-A'], { cwd: project, env: gitEnv })
  await execa('git', ['commit', '-q', '-m', 'binaries and links'], { cwd: project, env: gitEnv })
  return { project, textFiles }
}
