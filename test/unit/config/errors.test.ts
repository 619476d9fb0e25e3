import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig, trustProject, type LoadConfigOptions } from '../../../src/config/index.js'
import { SafeCoderError } from '../../../src/shared/errors.js'
import { makeConfigDirs } from './dirs.js'

async function loadError(options: LoadConfigOptions): Promise<SafeCoderError> {
  const error = await loadConfig(options).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof SafeCoderError))
    throw new Error(`expected a SafeCoderError, got ${String(error)}`)
  return error
}

async function projectError(name: string, content: string): Promise<[SafeCoderError, string]> {
  const dirs = await makeConfigDirs()
  const file = await dirs.write(path.join(dirs.project, name), content)
  return [await loadError({ cwd: dirs.project, env: dirs.env }), file]
}

describe('invalid values', () => {
  it('names the file, the TOML key, what was expected and what was found', async () => {
    const [error, file] = await projectError('.safecoderrc.toml', '[docker]\nmemory_mb = "lots"\n')
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toBe(
      `Invalid configuration in ${file}: [docker] memory_mb must be an integer ≥ 64, found "lots" (a string).`,
    )
    expect(error.hint).toBe(
      'Fix the value, or run `safe-coder config show` to see every key and its default.',
    )
    expect(error.data).toEqual({
      file,
      key: '[docker] memory_mb',
      expected: 'an integer ≥ 64',
      found: '"lots" (a string)',
    })
  })

  it.each([
    ['[docker]\ncpus = 0\n', '[docker] cpus must be a number > 0 and ≤ 1024, found 0 (a number)'],
    ['[vm]\nvcpu_count = 2.5\n', '[vm] vcpu_count must be an integer from 1 to 32, found 2.5'],
    ['[vm]\naccel = "hvf"\n', '[vm] accel must be one of "auto", "kvm", "tcg", found "hvf"'],
    ['[docker]\nauto_pull = "yes"\n', '[docker] auto_pull must be true or false, found "yes"'],
    ['[llm]\nbase_url = "file:///etc"\n', '[llm] base_url must be an http:// or https:// URL'],
    ['[network]\nallow = "a.example"\n', '[network] allow must be an array of strings'],
    [
      '[image]\npackages = ["git", "Bad Name"]\n',
      '[image] packages[1] must be a Debian package name',
    ],
    ['docker = 3\n', '[docker] must be a table of settings, found 3 (a number)'],
    [
      '[docker]\ndisk_mb = 0\n',
      '[docker] disk_mb must be an integer from 64 to 16777216, found 0 (a number)',
    ],
    [
      '[docker]\ndisk_mb = 1e12\n',
      '[docker] disk_mb must be an integer from 64 to 16777216, found 1000000000000',
    ],
    ['[vm]\ndisk_size_mib = 63.5\n', '[vm] disk_size_mib must be an integer from 64 to 16777216'],
  ])('explains %j', async (content, text) => {
    const [error] = await projectError('.safecoderrc.toml', content)
    expect(error.message).toContain(text)
  })

  it('lists every problem in a file, and never echoes an API key', async () => {
    const [error] = await projectError(
      '.safecoderrc.json',
      '{"docker":{"cpus":-1},"llm":{"api_key":7}}',
    )
    expect(error.message).toContain('[docker] cpus must be')
    expect(error.message).toContain(
      '[llm] api_key must be a non-empty string, found a value of type number',
    )
    expect(error.data?.problems).toHaveLength(2)
  })
})

describe('unknown keys', () => {
  it('suggests the key that was probably meant', async () => {
    const [error, file] = await projectError('.safecoderrc.toml', '[docker]\nmemroy_mb = 4096\n')
    expect(error.message).toBe(
      `Invalid configuration in ${file}: unknown key [docker] memroy_mb (did you mean memory_mb?).`,
    )
    expect(error.data).toMatchObject({ file, key: '[docker] memroy_mb', found: '"memroy_mb"' })
    expect(error.data?.expected).toContain('memory_mb')
  })

  it('suggests a section, or the section a stray key belongs to', async () => {
    const [section] = await projectError('.safecoderrc.toml', '[dokcer]\ncpus = 2\n')
    expect(section.message).toContain('unknown section [dokcer] (did you mean [docker]?)')
    const [topLevel] = await projectError('.safecoderrc.toml', 'backend = "docker"\n')
    expect(topLevel.message).toContain(
      'unknown key backend at the top level (did you mean [isolation] backend?)',
    )
    const [misplaced] = await projectError('.safecoderrc.yaml', 'docker:\n  backend: docker\n')
    expect(misplaced.message).toContain(
      'unknown key [docker] backend (did you mean [isolation] backend?)',
    )
  })
})

describe('unparseable files', () => {
  it.each([
    ['.safecoderrc.toml', '[docker]\ncpus = \n', 'TOML syntax error at line 2, column 8'],
    ['.safecoderrc.json', '{\n  "docker": {,\n}', 'JSON syntax error at line 2, column 14'],
    ['.safecoderrc', '{\n  "docker": 1,\n}\n', 'JSON syntax error at line 3, column 1'],
    [
      '.safecoderrc.yaml',
      'docker:\n  cpus: 2\n image: x\n',
      'YAML syntax error at line 3, column 2',
    ],
  ])('names %s and the line and column', async (name, content, where) => {
    const [error, file] = await projectError(name, content)
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toMatch(new RegExp(`^Invalid configuration in ${file}: ${where}: .+\\.$`))
    expect(error.data).toMatchObject({ file })
  })

  it('reports a trusted JavaScript config that throws against its file', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(
      path.join(dirs.project, 'safecoder.config.mjs'),
      'throw new Error("boom")\n',
    )
    await trustProject(dirs.project, dirs.env)
    const error = await loadError({ cwd: dirs.project, env: dirs.env })
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toBe(`Invalid configuration in ${file}: cannot load it (boom).`)
  })

  it('reports a file that is not a table', async () => {
    const [error] = await projectError('.safecoderrc.json', '[1, 2]')
    expect(error.message).toContain('the top level must be a table of sections')
  })
})

describe('invalid environment variables and flags', () => {
  it('names the variable and the allowed values', async () => {
    const dirs = await makeConfigDirs()
    const error = await loadError({
      cwd: dirs.project,
      env: { ...dirs.env, SAFE_CODER_BACKEND: 'kvm' },
    })
    expect(error.message).toBe(
      'Invalid configuration in environment variable SAFE_CODER_BACKEND: [isolation] backend must be one of "auto", "docker", "podman", "qemu", "firecracker", found "kvm" (a string).',
    )
    expect(error.hint).toContain('SAFE_CODER_BACKEND')
    expect(error.data).toMatchObject({ variable: 'SAFE_CODER_BACKEND', key: '[isolation] backend' })
  })

  it('names the flag', async () => {
    const dirs = await makeConfigDirs()
    const error = await loadError({
      cwd: dirs.project,
      env: dirs.env,
      flags: { 'docker.memory_mb': { value: 'lots', flag: '--memory' } },
    })
    expect(error.message).toBe(
      'Invalid configuration in flag --memory: [docker] memory_mb must be an integer ≥ 64, found "lots" (a string).',
    )
    expect(error.data).toMatchObject({ flag: '--memory', expected: 'an integer ≥ 64' })
  })

  it('checks the user file too, before the project file', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(dirs.userFile, '[llm]\nprovider = "gpt"\n')
    const error = await loadError({ cwd: dirs.project, env: dirs.env })
    expect(error.message).toContain(`in ${dirs.userFile}: [llm] provider must be one of`)
  })

  it('says a missing --config file is not found', async () => {
    const dirs = await makeConfigDirs()
    const error = await loadError({ cwd: dirs.project, env: dirs.env, configFile: 'nope.toml' })
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toContain(path.join(dirs.project, 'nope.toml'))
    expect(error.message).toContain('--config')
  })

  it('lists the supported formats for a --config file of another kind', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(path.join(dirs.project, 'config.ini'), 'cpus=2\n')
    const error = await loadError({ cwd: dirs.project, env: dirs.env, configFile: 'config.ini' })
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.hint).toContain('.toml')
  })
})
