import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config/index.js'
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
