import { mkdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  AgentError,
  openRoot,
  resolveInside,
  splitRelative,
  type Root,
} from '../../../src/guest/paths.js'
import { tempDir } from '../../helpers/sandbox.js'

function codeOf(action: () => unknown): string {
  try {
    action()
    return 'ok'
  } catch (error) {
    return error instanceof AgentError ? error.code : `unexpected: ${String(error)}`
  }
}

async function fixture(): Promise<{ root: Root; outside: string }> {
  const base = await tempDir('safe-coder-paths-')
  const dir = path.join(base, 'ws')
  const outside = path.join(base, 'outside')
  await mkdir(path.join(dir, 'sub/deep'), { recursive: true })
  await mkdir(outside)
  await writeFile(path.join(dir, 'sub/file.txt'), 'x')
  await writeFile(path.join(outside, 'secret'), 'host')
  await symlink('sub', path.join(dir, 'rel-link'))
  await symlink(path.join(dir, 'sub/file.txt'), path.join(dir, 'abs-inside'))
  await symlink(outside, path.join(dir, 'out-abs'))
  await symlink('../outside', path.join(dir, 'out-rel'))
  await symlink('sub/../../outside/secret', path.join(dir, 'out-dotdot'))
  await symlink('loop-b', path.join(dir, 'loop-a'))
  await symlink('loop-a', path.join(dir, 'loop-b'))
  await symlink('nowhere', path.join(dir, 'dangling'))
  return { root: openRoot(dir), outside }
}

describe('guest path confinement', () => {
  it('accepts only normalised relative paths', () => {
    expect(splitRelative('')).toEqual([])
    expect(splitRelative('a/b c/d')).toEqual(['a', 'b c', 'd'])
    expect(codeOf(() => splitRelative('a/../b'))).toBe('OUTSIDE')
    expect(codeOf(() => splitRelative('a\0b'))).toBe('OUTSIDE')
    expect(codeOf(() => splitRelative('/etc'))).toBe('BAD_REQUEST')
    expect(codeOf(() => splitRelative('a//b'))).toBe('BAD_REQUEST')
    expect(codeOf(() => splitRelative('./a'))).toBe('BAD_REQUEST')
    expect(codeOf(() => splitRelative(7))).toBe('BAD_REQUEST')
  })

  it('follows symlinks that stay inside, relative or absolute', async () => {
    const { root } = await fixture()
    const viaLink = resolveInside(root, ['rel-link', 'file.txt'], { followLast: true })
    expect(viaLink.path).toBe(path.join(root.real, 'sub/file.txt'))
    expect(viaLink.stat?.isFile()).toBe(true)
    expect(resolveInside(root, ['abs-inside'], { followLast: true }).path).toBe(
      path.join(root.real, 'sub/file.txt'),
    )
    // Not following the last name: the link itself.
    expect(resolveInside(root, ['abs-inside'], { followLast: false }).stat?.isSymbolicLink()).toBe(
      true,
    )
    expect(resolveInside(root, [], { followLast: true }).path).toBe(root.real)
  })

  it('refuses any symlink that leads out, even for a moment', async () => {
    const { root } = await fixture()
    for (const names of [
      ['out-abs'],
      ['out-abs', 'secret'],
      ['out-rel', 'secret'],
      ['out-dotdot'],
    ]) {
      expect(codeOf(() => resolveInside(root, names, { followLast: true }))).toBe('OUTSIDE')
    }
    // A link that leads out is fine as long as it is not followed (stat, write over it).
    expect(codeOf(() => resolveInside(root, ['out-abs'], { followLast: false }))).toBe('ok')
    expect(codeOf(() => resolveInside(root, ['out-abs', 'x'], { followLast: false }))).toBe(
      'OUTSIDE',
    )
  })

  it('says MISSING, NOT_DIR and stops link loops', async () => {
    const { root } = await fixture()
    expect(resolveInside(root, ['nope'], { followLast: true }).stat).toBeUndefined()
    expect(resolveInside(root, ['dangling'], { followLast: true }).stat).toBeUndefined()
    expect(codeOf(() => resolveInside(root, ['nope', 'x'], { followLast: true }))).toBe('MISSING')
    expect(codeOf(() => resolveInside(root, ['sub', 'file.txt', 'x'], { followLast: true }))).toBe(
      'NOT_DIR',
    )
    expect(codeOf(() => resolveInside(root, ['loop-a'], { followLast: true }))).toBe('MISSING')
  })

  it('creates missing directories on the way when asked, never outside', async () => {
    const { root } = await fixture()
    const made = resolveInside(root, ['new', 'deeper'], { followLast: true, create: true })
    expect(made.stat?.isDirectory()).toBe(true)
    expect(
      codeOf(() => resolveInside(root, ['out-abs', 'made'], { followLast: true, create: true })),
    ).toBe('OUTSIDE')
  })
})
