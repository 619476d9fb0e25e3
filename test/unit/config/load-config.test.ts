import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig, trustProject } from '../../../src/config/index.js'
import { makeConfigDirs } from './dirs.js'

describe('loadConfig precedence', () => {
  it('returns the schema defaults, all with origin default, when nothing is set', async () => {
    const dirs = await makeConfigDirs()
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.files).toEqual([])
    expect(loaded.config.docker.memory_mb).toBe(2048)
    expect(loaded.config.isolation.backend).toBe('auto')
    expect(loaded.origins['docker.memory_mb']).toEqual({ kind: 'default' })
    expect(loaded.origins['docker.runtime']).toEqual({ kind: 'default' })
    expect(Object.values(loaded.origins).every((o) => o.kind === 'default')).toBe(true)
  })

  it('stacks default < user < project < env < flag, recording where each key came from', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(
      dirs.userFile,
      '[isolation]\nbackend = "qemu"\n[docker]\ncpus = 2\nimage = "user/img"\nmemory_mb = 512\n',
    )
    const projectFile = await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[docker]\ncpus = 1\n',
    )
    const loaded = await loadConfig({
      cwd: dirs.project,
      env: { ...dirs.env, SAFE_CODER_BACKEND: 'firecracker', SAFE_CODER_IMAGE: 'env/img' },
      flags: { 'isolation.backend': { value: 'docker', flag: '--backend' } },
    })
    expect(loaded.files).toEqual([dirs.userFile, projectFile])
    expect(loaded.config.docker.memory_mb).toBe(512)
    expect(loaded.origins['docker.memory_mb']).toEqual({ kind: 'file', path: dirs.userFile })
    expect(loaded.config.docker.cpus).toBe(1)
    expect(loaded.origins['docker.cpus']).toEqual({ kind: 'file', path: projectFile })
    expect(loaded.config.docker.image).toBe('env/img')
    expect(loaded.origins['docker.image']).toEqual({ kind: 'env', variable: 'SAFE_CODER_IMAGE' })
    expect(loaded.config.isolation.backend).toBe('docker')
    expect(loaded.origins['isolation.backend']).toEqual({ kind: 'flag', flag: '--backend' })
    expect(loaded.origins['docker.pids_limit']).toEqual({ kind: 'default' })
  })

  it('adds a project file’s lists to the user’s instead of replacing them', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(dirs.userFile, '[network]\ndeny = ["a.example", "b.example"]\n')
    await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[network]\ndeny = ["c.example", "a.example"]\n',
    )
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.config.network.deny).toEqual(['a.example', 'b.example', 'c.example'])
  })

  it('replaces lists from the environment and flags, which are the user’s', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(dirs.userFile, '[network]\nallow = ["a.example", "b.example"]\n')
    const loaded = await loadConfig({
      cwd: dirs.project,
      env: dirs.env,
      flags: { 'network.allow': { value: ['c.example'], flag: '--allow-host' } },
    })
    expect(loaded.config.network.allow).toEqual(['c.example'])
  })

  it('finds the user file under XDG_CONFIG_HOME when it is set', async () => {
    const dirs = await makeConfigDirs()
    const xdg = path.join(dirs.root, 'xdg')
    const file = await dirs.write(
      path.join(xdg, 'safe-coder', 'config.toml'),
      '[agent]\nmax_steps = 70\n',
    )
    const loaded = await loadConfig({
      cwd: dirs.project,
      env: { ...dirs.env, XDG_CONFIG_HOME: xdg },
    })
    expect(loaded.files).toEqual([file])
    expect(loaded.config.agent.max_steps).toBe(70)
  })

  it('reads --config instead of searching, resolving it against cwd', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(path.join(dirs.project, '.safecoderrc.toml'), '[docker]\ncpus = 1\n')
    const other = await dirs.write(
      path.join(dirs.root, 'other.yaml'),
      'isolation:\n  backend: qemu\ndocker:\n  cpus: 1.5\n',
    )
    const loaded = await loadConfig({ cwd: dirs.root, env: dirs.env, configFile: 'other.yaml' })
    expect(loaded.files).toEqual([other])
    expect(loaded.config.docker.cpus).toBe(1.5)
    // A file the user names is theirs: it may set what a project file may not.
    expect(loaded.config.isolation.backend).toBe('qemu')
  })

  it('coerces flag text to the type of its key', async () => {
    const dirs = await makeConfigDirs()
    const loaded = await loadConfig({
      cwd: dirs.project,
      env: dirs.env,
      flags: {
        'docker.memory_mb': { value: '4096', flag: '--memory' },
        'docker.auto_pull': { value: 'true', flag: '--pull' },
        'llm.model': { value: undefined, flag: '--model' },
      },
    })
    expect(loaded.config.docker.memory_mb).toBe(4096)
    expect(loaded.config.docker.auto_pull).toBe(true)
    expect(loaded.origins['llm.model']).toEqual({ kind: 'default' })
  })
})

describe('loadConfig file formats', () => {
  const cases: [string, string][] = [
    ['.safecoderrc.toml', '[docker]\nmemory_mb = 1024\n'],
    ['.safecoderrc.json', '{ "docker": { "memory_mb": 1024 } }'],
    ['.safecoderrc.yaml', 'docker:\n  memory_mb: 1024\n'],
    ['.safecoderrc.yml', 'docker:\n  memory_mb: 1024\n'],
    ['.safecoderrc', 'docker:\n  memory_mb: 1024\n'],
    ['.safecoderrc', '{ "docker": { "memory_mb": 1024 } }\n'],
    ['package.json', '{ "name": "p", "safecoder": { "docker": { "memory_mb": 1024 } } }'],
  ]
  it.each(cases)('reads %s', async (name, content) => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(path.join(dirs.project, name), content)
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.files).toEqual([file])
    expect(loaded.config.docker.memory_mb).toBe(1024)
    expect(loaded.origins['docker.memory_mb']).toEqual({ kind: 'file', path: file })
  })

  it.each([
    ['safecoder.config.mjs', 'export default { docker: { memory_mb: 1024 } }\n'],
    ['safecoder.config.cjs', 'module.exports = { docker: { memory_mb: 1024 } }\n'],
  ])('reads %s once the project is trusted', async (name, content) => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(path.join(dirs.project, name), content)
    await expect(loadConfig({ cwd: dirs.project, env: dirs.env })).rejects.toThrow(/JavaScript/)
    await trustProject(dirs.project, dirs.env)
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.files).toEqual([file])
    expect(loaded.project).toEqual({ file, trusted: true })
    expect(loaded.config.docker.memory_mb).toBe(1024)
  })

  it('skips a package.json without a safecoder key', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(path.join(dirs.project, 'package.json'), '{ "name": "p" }')
    const file = await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[agent]\nmax_steps = 20\n',
    )
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.files).toEqual([file])
    expect(loaded.config.agent.max_steps).toBe(20)
  })

  it('treats a file of comments only as the project file, with nothing set', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(path.join(dirs.home, '.safecoderrc.toml'), '[docker]\ncpus = 7\n')
    const file = await dirs.write(path.join(dirs.project, '.safecoderrc.toml'), '# nothing yet\n')
    const loaded = await loadConfig({ cwd: dirs.project, env: dirs.env })
    expect(loaded.files).toEqual([file])
    expect(loaded.config.docker.cpus).toBe(2)
  })
})

describe('loadConfig project search', () => {
  it('searches upward from a subdirectory to the project root', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(
      path.join(dirs.project, '.safecoderrc.json'),
      '{"agent":{"max_steps":30}}',
    )
    const deep = path.join(dirs.project, 'src', 'deep')
    await dirs.write(path.join(deep, 'placeholder.txt'), '')
    const loaded = await loadConfig({ cwd: deep, env: dirs.env })
    expect(loaded.files).toEqual([file])
    expect(loaded.config.agent.max_steps).toBe(30)
  })

  it('uses the nearest file when several directories have one', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(path.join(dirs.project, '.safecoderrc.toml'), '[agent]\nmax_steps = 30\n')
    const nested = await dirs.write(
      path.join(dirs.project, 'pkg', '.safecoderrc.toml'),
      '[agent]\nmax_steps = 40\n',
    )
    const loaded = await loadConfig({ cwd: path.join(dirs.project, 'pkg'), env: dirs.env })
    expect(loaded.files).toEqual([nested])
    expect(loaded.config.agent.max_steps).toBe(40)
  })

  it('stops at the git root', async () => {
    const dirs = await makeConfigDirs()
    const outside = path.join(dirs.home, 'work')
    await dirs.write(path.join(outside, '.safecoderrc.toml'), '[vm]\nvcpu_count = 9\n')
    const repo = path.join(outside, 'repo')
    await dirs.write(path.join(repo, '.git', 'HEAD'), 'ref: refs/heads/main\n')
    const loaded = await loadConfig({ cwd: path.join(repo, 'sub'), env: dirs.env })
    expect(loaded.files).toEqual([])
  })

  it('outside a git repository reads only the project directory itself, never home', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(path.join(dirs.home, '.safecoderrc.toml'), '[agent]\nmax_steps = 9\n')
    const notes = path.join(dirs.home, 'notes')
    const found = await dirs.write(
      path.join(notes, '.safecoderrc.toml'),
      '[agent]\nmax_steps = 4\n',
    )
    await dirs.write(path.join(notes, 'sub', 'placeholder.txt'), '')
    expect((await loadConfig({ cwd: notes, env: dirs.env })).files).toEqual([found])
    expect((await loadConfig({ cwd: path.join(notes, 'sub'), env: dirs.env })).files).toEqual([])
    expect((await loadConfig({ cwd: dirs.home, env: dirs.env })).files).toEqual([])
  })

  it('searches the project given as projectDir, not the working directory', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(path.join(dirs.root, '.safecoderrc.toml'), '[agent]\nmax_steps = 9\n')
    const file = await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[workspace]\nexclude = ["*.env"]\n',
    )
    const loaded = await loadConfig({ cwd: dirs.root, projectDir: dirs.project, env: dirs.env })
    expect(loaded.files).toEqual([file])
    expect(loaded.config.workspace.exclude).toEqual(['*.env'])
  })
})
