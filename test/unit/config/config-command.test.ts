import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { configTemplate } from '../../../src/config/index.js'
import { runCli } from '../../helpers/cli.js'
import { makeConfigDirs } from './dirs.js'

describe('safe-coder config show', () => {
  it('prints every key with its value and origin', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[docker]\npids_limit = 64\n[network]\ndeny = ["pypi.org"]\n',
    )
    const env = {
      ...dirs.env,
      SAFE_CODER_BACKEND: 'docker',
      ANTHROPIC_API_KEY: 'sk-ant-0123456789abcd',
    }
    const result = await runCli(['config', 'show'], { cwd: dirs.project, env })
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines).toContain(`#   ${file}`)
    expect(lines).toContain('[docker]')
    expect(result.stdout).toMatch(/^ {2}backend = "docker" +# env SAFE_CODER_BACKEND$/m)
    expect(result.stdout).toMatch(new RegExp(`^  pids_limit = 64 +# ${file}$`, 'm'))
    expect(result.stdout).toMatch(/^ {2}memory_mb = 2048 +# default$/m)
    expect(result.stdout).toMatch(/^ {2}deny = \["pypi.org"\] +# /m)
    expect(result.stdout).toMatch(/^ {2}# runtime \(not set\)$/m)
    expect(result.stdout).toMatch(/^ {2}api_key = "sk-…abcd" +# env ANTHROPIC_API_KEY$/m)
    expect(result.stdout).not.toContain('0123456789')
  })

  it('prints { config, origins, files } with --json, the key redacted', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(dirs.userFile, '[llm]\napi_key = "sk-proj-0123456789wxyz"\n')
    const result = await runCli(['config', 'show', '--json'], { cwd: dirs.project, env: dirs.env })
    expect(result.status).toBe(0)
    const report = JSON.parse(result.stdout) as {
      config: { llm: { api_key: string }; docker: { memory_mb: number } }
      origins: Record<string, unknown>
      files: string[]
    }
    expect(report.files).toEqual([dirs.userFile])
    expect(report.config.llm.api_key).toBe('sk-…wxyz')
    expect(report.config.docker.memory_mb).toBe(2048)
    expect(report.origins['llm.api_key']).toEqual({ kind: 'file', path: dirs.userFile })
    expect(result.stdout).not.toContain('0123456789')
  })

  it('reads the file given to --config', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(path.join(dirs.root, 'ci.json'), '{"docker":{"cpus":1.5}}')
    const result = await runCli(['config', 'show', '--config', file], {
      cwd: dirs.project,
      env: dirs.env,
    })
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^  cpus = 1.5 +# ${file}$`, 'm'))
  })

  it('fails with status 78 and the message on invalid configuration', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[docker]\nmemory_mb = "lots"\n',
    )
    const result = await runCli(['config', 'show'], { cwd: dirs.project, env: dirs.env })
    expect(result.status).toBe(78)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain(
      `safe-coder: Invalid configuration in ${file}: [docker] memory_mb must be an integer ≥ 64`,
    )
    expect(result.stderr).toContain('hint: Fix the value')
  })
})

describe('safe-coder config init', () => {
  it('writes the template to ./.safecoderrc.toml and prints the path', async () => {
    const dirs = await makeConfigDirs()
    const file = path.join(dirs.project, '.safecoderrc.toml')
    const result = await runCli(['config', 'init'], { cwd: dirs.project, env: dirs.env })
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`Wrote ${file}\n`)
    expect(result.stderr).toBe('')
    expect(await readFile(file, 'utf8')).toBe(configTemplate())
    const shown = await runCli(['config', 'show'], { cwd: dirs.project, env: dirs.env })
    expect(shown.stdout).toContain(`#   ${file}`)
  })

  it('refuses to overwrite an existing file without --force', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(
      path.join(dirs.project, '.safecoderrc.toml'),
      '[vm]\naccel = "tcg"\n',
    )
    const refused = await runCli(['config', 'init'], { cwd: dirs.project, env: dirs.env })
    expect(refused.status).toBe(64)
    expect(refused.stderr).toContain(file)
    expect(refused.stderr).toContain('--force')
    expect(await readFile(file, 'utf8')).toBe('[vm]\naccel = "tcg"\n')
    const forced = await runCli(['config', 'init', '--force'], { cwd: dirs.project, env: dirs.env })
    expect(forced.status).toBe(0)
    expect(await readFile(file, 'utf8')).toBe(configTemplate())
  })

  it('writes the user file with --user, creating its directory', async () => {
    const dirs = await makeConfigDirs()
    const result = await runCli(['config', 'init', '--user'], { cwd: dirs.project, env: dirs.env })
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`Wrote ${dirs.userFile}\n`)
    expect((await stat(dirs.userFile)).isFile()).toBe(true)
  })

  it('warns when another config file in the directory would be read instead', async () => {
    const dirs = await makeConfigDirs()
    const json = await dirs.write(path.join(dirs.project, '.safecoderrc.json'), '{}')
    const result = await runCli(['config', 'init'], { cwd: dirs.project, env: dirs.env })
    expect(result.status).toBe(0)
    expect(result.stderr).toContain(`${json} is found first and is read instead`)
  })
})
