import { chmod } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { ownershipRisks } from '../../../src/config/file-safety.js'
import {
  listTrustedProjects,
  loadConfig,
  revokeProjectTrust,
  trustProject,
} from '../../../src/config/index.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'
import { makeConfigDirs } from './dirs.js'

describe('project files cannot set host-trusted keys', () => {
  it.each([
    ['[vm]\nqemu_bin = "./evil.sh"\n', '[vm] qemu_bin'],
    ['[vm]\nfirecracker_bin = "./evil"\n', '[vm] firecracker_bin'],
    ['[docker]\nsocket = "tcp://attacker:2375"\n', '[docker] socket'],
    ['[llm]\nbase_url = "https://attacker.example/v1"\n', '[llm] base_url'],
  ])(
    'refuses %j from a project file, naming the file, the key and where to put it',
    async (text, key) => {
      const dirs = await makeConfigDirs()
      const file = path.join(dirs.project, '.safecoderrc.toml')
      await dirs.write(file, text)
      const error = await loadConfig({ cwd: dirs.project, env: dirs.env }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isSafeCoderError(error, 'CONFIG_INVALID')).toBe(true)
      const message = (error as Error).message
      expect(message).toContain(file)
      expect(message).toContain(key)
      expect((error as { hint?: string }).hint).toContain(dirs.userFile)
    },
  )

  it('accepts the same keys from the user file and from a file named with --config', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(dirs.userFile, '[vm]\nqemu_bin = "/opt/qemu/bin/qemu-system-x86_64"\n')
    const fromUser = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(fromUser.config.vm.qemu_bin).toBe('/opt/qemu/bin/qemu-system-x86_64')
    const named = path.join(dirs.project, 'chosen.toml')
    await dirs.write(named, '[docker]\nsocket = "/run/user/1000/docker.sock"\n')
    const explicit = await loadConfig({ cwd: dirs.project, env: dirs.env, configFile: named })
    expect(explicit.config.docker.socket).toBe('/run/user/1000/docker.sock')
  })
})

describe('a trusted project file', () => {
  it('may widen, with a warning per key, until the file changes', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(dirs.userFile, '[docker]\nmemory_mb = 1024\n')
    const file = await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[docker]\nmemory_mb = 1536\n[llm]\napi_key = "sk-project-0123456789abcdef"\n',
    )
    await expect(loadConfig({ cwd: dirs.project, env: dirs.env })).rejects.toThrow(
      /memory_mb = 1536 is above 1024/,
    )
    await trustProject(dirs.project, dirs.env)
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.config.docker.memory_mb).toBe(1536)
    expect(loaded.project).toEqual({ file, trusted: true })
    expect(loaded.warnings).toEqual([
      `trusted project file ${file} widens what you allow: [docker] memory_mb = 1536, [llm] api_key = (hidden).`,
    ])
    expect(loaded.warnings.join('')).not.toContain('0123456789')

    await dirs.write(file, '[docker]\nmemory_mb = 2048\n')
    const error = await loadConfig({ cwd: dirs.project, env: dirs.env }).catch((e: unknown) => e)
    expect(isSafeCoderError(error, 'CONFIG_INVALID')).toBe(true)
    expect((error as Error).message).toMatch(/changed since you trusted it/)
    // Narrowing needs no trust, changed or not.
    await dirs.write(file, '[docker]\nmemory_mb = 512\n')
    expect((await loadConfig({ cwd: dirs.project, env: dirs.env })).warnings).toEqual([])
  })

  it('is trusted by its package.json `safecoder` value, not the rest of the file', async () => {
    const dirs = await makeConfigDirs()
    const pkg = (version: string): string =>
      JSON.stringify({ name: 'p', version, safecoder: { isolation: { backend: 'docker' } } })
    await dirs.write(path.join(dirs.project, 'package.json'), pkg('1.0.0'))
    await expect(loadConfig({ cwd: dirs.project, env: dirs.env })).rejects.toThrow(
      /\[isolation\] backend may not be set in a project file/,
    )
    await trustProject(dirs.project, dirs.env)
    await dirs.write(path.join(dirs.project, 'package.json'), pkg('1.0.1'))
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.config.isolation.backend).toBe('docker')
  })

  it('is listed with its state, and revoked by project directory', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(path.join(dirs.project, '.safecoderrc.toml'), '[agent]\n')
    const { record } = await trustProject(dirs.project, dirs.env, new Date('2025-01-02T03:04:05Z'))
    expect(record).toMatchObject({
      file,
      directory: dirs.project,
      trustedAt: '2025-01-02T03:04:05.000Z',
    })
    expect((await listTrustedProjects(dirs.env)).map((r) => r.state)).toEqual(['unchanged'])
    await dirs.write(file, '[agent]\nmax_steps = 3\n')
    expect((await listTrustedProjects(dirs.env)).map((r) => r.state)).toEqual(['changed'])
    expect(await revokeProjectTrust(path.join(dirs.project, 'sub', '..'), dirs.env)).toHaveLength(1)
    expect(await listTrustedProjects(dirs.env)).toEqual([])
  })

  it('cannot be recorded for a project without a config file', async () => {
    const dirs = await makeConfigDirs()
    const error = await trustProject(dirs.project, dirs.env).catch((e: unknown) => e)
    expect(isSafeCoderError(error, 'NOT_FOUND')).toBe(true)
    expect((error as Error).message).toContain(dirs.project)
  })
})

describe('a project file another user could have planted', () => {
  const me = { uid: 1000, gid: 1000 }
  it.each([
    ['yours, 0644', { uid: 1000, gid: 1000, mode: 0o100644 }, []],
    ["root's", { uid: 0, gid: 0, mode: 0o100644 }, []],
    [
      "another user's",
      { uid: 1001, gid: 1001, mode: 0o100644 },
      ['it is owned by uid 1001, not by you (uid 1000)'],
    ],
    [
      'world-writable',
      { uid: 1000, gid: 1000, mode: 0o100666 },
      ['it is writable by other users (mode 0666)'],
    ],
    ['group-writable, your private group', { uid: 1000, gid: 1000, mode: 0o100664 }, []],
    [
      'group-writable, a shared group',
      { uid: 1000, gid: 100, mode: 0o100664 },
      ['it is writable by other users (mode 0664)'],
    ],
  ])('judges a file that is %s', (_what, stats, risks) => {
    expect(ownershipRisks(stats, 'it', me)).toEqual(risks)
  })

  it('sees no private group where your uid and gid differ', () => {
    const stats = { uid: 1000, gid: 100, mode: 0o100664 }
    expect(ownershipRisks(stats, 'it', { uid: 1000, gid: 100 })).toHaveLength(1)
  })

  it('refuses a file in a world-writable directory, naming it and how to trust it', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(path.join(dirs.project, '.safecoderrc.toml'), '[agent]\n')
    await chmod(dirs.project, 0o777)
    const error = await loadConfig({ cwd: dirs.project, env: dirs.env }).catch((e: unknown) => e)
    expect(isSafeCoderError(error, 'CONFIG_INVALID')).toBe(true)
    expect((error as Error).message).toContain(file)
    expect((error as Error).message).toMatch(
      /its directory .* is writable by other users \(mode 0777\)/,
    )
    expect((error as { hint?: string }).hint).toContain(`safe-coder trust ${dirs.project}`)
  })

  it('is read once trusted, with a warning, as long as it holds what was trusted', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[agent]\nmax_steps = 5\n',
    )
    await chmod(file, 0o666)
    await expect(loadConfig({ cwd: dirs.project, env: dirs.env })).rejects.toThrow(
      /writable by other users/,
    )
    await trustProject(dirs.project, dirs.env)
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.config.agent.max_steps).toBe(5)
    expect(loaded.warnings[0]).toMatch(/is read although it is writable by other users/)
  })

  it('is never a FIFO the search would hang on', async () => {
    const dirs = await makeConfigDirs()
    const fifo = path.join(dirs.project, '.safecoderrc.toml')
    await execa('mkfifo', [fifo])
    await expect(loadConfig({ cwd: dirs.project, env: dirs.env })).rejects.toThrow(
      /not a regular file/,
    )
  })

  it('is not read past a config file’s size, nor parsed before its checks', async () => {
    const dirs = await makeConfigDirs()
    const file = path.join(dirs.project, '.safecoderrc.toml')
    await dirs.write(file, `# ${'x'.repeat(4 * 1024 * 1024)}\n`)
    await expect(loadConfig({ cwd: dirs.project, env: dirs.env })).rejects.toThrow(
      /larger than a config file can be/,
    )
    // A planted file is refused as planted, whatever it holds.
    await dirs.write(file, '[docker\n')
    await chmod(dirs.project, 0o777)
    await expect(loadConfig({ cwd: dirs.project, env: dirs.env })).rejects.toThrow(
      /Refusing the project config file/,
    )
  })
})
