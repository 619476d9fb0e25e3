import { readFile, symlink, lstat } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isSafeCoderError } from '../../src/shared/errors.js'
import { createTestSandbox, sandboxVariants } from '../helpers/sandbox.js'

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    return isSafeCoderError(error) ? error.code : `unexpected: ${String(error)}`
  }
}

describe.each(sandboxVariants)('docker sandbox file operations ($name)', ({ backend: variant }) => {
  it('writes, reads, stats and lists inside /workspace, visible in the host mirror', async () => {
    const { sandbox, mirror } = await createTestSandbox({ backend: variant })
    await sandbox.writeFile('src/deep/new.txt', 'hello\nworld\n')
    expect(await readFile(path.join(mirror, 'src/deep/new.txt'), 'utf8')).toBe('hello\nworld\n')
    expect(Buffer.from(await sandbox.readFile('/workspace/src/deep/new.txt')).toString()).toBe(
      'hello\nworld\n',
    )
    const info = await sandbox.stat('src/deep/new.txt')
    expect(info).toMatchObject({ path: '/workspace/src/deep/new.txt', kind: 'file', size: 12 })
    await sandbox.writeFile('run.sh', '#!/bin/sh\necho ran\n', { mode: 0o755 })
    expect((await lstat(path.join(mirror, 'run.sh'))).mode & 0o777).toBe(0o755)
    expect((await sandbox.exec({ command: './run.sh' })).stdout).toBe('ran\n')
    const entries = await sandbox.list('.')
    expect(entries.map((e) => [e.name, e.kind])).toEqual([
      ['run.sh', 'file'],
      ['src', 'dir'],
    ])
  })

  it('round-trips binary data and odd names', async () => {
    const { sandbox } = await createTestSandbox({ backend: variant })
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    await sandbox.writeFile('bin.dat', bytes)
    expect(Buffer.from(await sandbox.readFile('bin.dat')).equals(bytes)).toBe(true)
    const odd = 'new\nline -dash $(x) ü.txt'
    await sandbox.writeFile(odd, 'odd')
    expect((await sandbox.list('.')).map((e) => e.name)).toContain(odd)
    expect(Buffer.from(await sandbox.readFile(odd)).toString()).toBe('odd')
  })

  it('keeps an existing file mode on overwrite and reads at most maxBytes', async () => {
    const { sandbox } = await createTestSandbox({ backend: variant })
    await sandbox.writeFile('x.sh', 'a', { mode: 0o750 })
    await sandbox.writeFile('x.sh', 'abcdef')
    expect((await sandbox.stat('x.sh')).mode).toBe(0o750)
    expect(Buffer.from(await sandbox.readFile('x.sh', { maxBytes: 3 })).toString()).toBe('abc')
  })

  it('refuses ../ escapes, absolute paths and symlinks that lead out, without touching the host', async () => {
    const { sandbox, mirror } = await createTestSandbox({ backend: variant })
    const hostPasswd = await readFile('/etc/passwd', 'utf8')
    await symlink('/etc', path.join(mirror, 'etc-link'))
    await symlink('/etc/passwd', path.join(mirror, 'passwd-link'))
    expect(await codeOf(sandbox.readFile('../../etc/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.readFile('/etc/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.readFile('a/../../etc/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.readFile('etc-link/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.readFile('passwd-link'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.writeFile('etc-link/evil', 'x'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.list('etc-link'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.stat('etc-link/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.exec({ command: 'true', cwd: '../..' }))).toBe('PATH_REJECTED')
    // Writing to a symlink replaces the link; it never writes through it.
    await sandbox.writeFile('passwd-link', 'replaced')
    expect((await lstat(path.join(mirror, 'passwd-link'))).isSymbolicLink()).toBe(false)
    expect(await readFile('/etc/passwd', 'utf8')).toBe(hostPasswd)
    // The stat of a link describes the link itself.
    expect((await sandbox.stat('etc-link')).kind).toBe('symlink')
  })

  it('says NOT_FOUND for missing paths and rejects the wrong kind', async () => {
    const { sandbox } = await createTestSandbox({ backend: variant })
    await sandbox.exec({ command: 'mkdir adir' })
    expect(await codeOf(sandbox.readFile('nope.txt'))).toBe('NOT_FOUND')
    expect(await codeOf(sandbox.stat('nope.txt'))).toBe('NOT_FOUND')
    expect(await codeOf(sandbox.list('nope'))).toBe('NOT_FOUND')
    expect(await codeOf(sandbox.readFile('adir'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.writeFile('adir', 'x'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.readFile('a\0b'))).toBe('PATH_REJECTED')
  })
})
