import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config/index.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'
import { makeConfigDirs } from './dirs.js'

const host = { cpus: 4, memoryMb: 8192 }

async function loadError(text: string, env: Record<string, string> = {}): Promise<unknown> {
  const dirs = await makeConfigDirs()
  await dirs.write(dirs.userFile, text)
  return loadConfig({ cwd: dirs.project, env: { ...dirs.env, ...env }, host }).then(
    () => undefined,
    (e: unknown) => e,
  )
}

describe('limits above what the machine has', () => {
  it.each([
    ['[docker]\ncpus = 6\n', '[docker] cpus must be at most 4 (this machine has 4 CPUs), found 6'],
    [
      '[docker]\nmemory_mb = 9000\n',
      '[docker] memory_mb must be at most 8192 (this machine has 8192 MiB of memory), found 9000',
    ],
    ['[vm]\nvcpu_count = 5\n', '[vm] vcpu_count must be at most 4'],
    ['[vm]\nmem_size_mib = 16384\n', '[vm] mem_size_mib must be at most 8192'],
  ])('are a config error naming the file and key: %j', async (text, message) => {
    const error = await loadError(text)
    expect(isSafeCoderError(error, 'CONFIG_INVALID')).toBe(true)
    expect((error as Error).message).toMatch(/^Invalid configuration in .*config\.toml: /)
    expect((error as Error).message).toContain(message)
  })

  it('names the flag or variable that set it', async () => {
    const dirs = await makeConfigDirs()
    const error = await loadConfig({
      cwd: dirs.project,
      env: dirs.env,
      host,
      flags: { 'docker.memory_mb': { value: '10000', flag: '--memory' } },
    }).catch((e: unknown) => e)
    expect((error as Error).message).toMatch(/^Invalid configuration in flag --memory: /)
  })

  it('accepts the machine’s own size, and leaves a remote engine’s limits to it', async () => {
    expect(await loadError('[docker]\ncpus = 4\nmemory_mb = 8192\n')).toBeUndefined()
    expect(
      await loadError('[docker]\ncpus = 64\n', { DOCKER_HOST: 'tcp://build:2375' }),
    ).toBeUndefined()
    expect(
      await loadError('[vm]\nvcpu_count = 8\n', { DOCKER_HOST: 'tcp://build:2375' }),
    ).toBeDefined()
  })

  it('applies to a project file too (after its narrowing rules)', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(path.join(dirs.project, '.safecoderrc.toml'), '[docker]\ncpus = 1.5\n')
    const small = { cpus: 1, memoryMb: 8192 }
    const error = await loadConfig({ cwd: dirs.project, env: dirs.env, host: small }).catch(
      (e: unknown) => e,
    )
    expect((error as Error).message).toContain('.safecoderrc.toml: [docker] cpus must be at most 1')
  })

  it('leaves defaults alone: the machine may be smaller than they are', async () => {
    const dirs = await makeConfigDirs()
    const loaded = await loadConfig({
      cwd: dirs.project,
      env: dirs.env,
      host: { cpus: 1, memoryMb: 512 },
    })
    expect(loaded.config.docker.cpus).toBe(2)
  })
})
