import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config/index.js'
import { ollamaBaseUrl } from '../../../src/config/env.js'
import { makeConfigDirs } from './dirs.js'

describe('environment variables', () => {
  it('map SAFE_CODER_BACKEND, DOCKER_HOST and SAFE_CODER_IMAGE over the files', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(
      dirs.userFile,
      '[isolation]\nbackend = "qemu"\n[docker]\nsocket = "/file.sock"\nimage = "file/img"\n',
    )
    const env = {
      ...dirs.env,
      SAFE_CODER_BACKEND: 'podman',
      DOCKER_HOST: 'tcp://10.0.0.2:2375',
      SAFE_CODER_IMAGE: 'env/img:1',
    }
    const { config, origins } = await loadConfig({ cwd: dirs.project, env })
    expect(config.isolation.backend).toBe('podman')
    expect(config.docker.socket).toBe('tcp://10.0.0.2:2375')
    expect(origins['docker.socket']).toEqual({ kind: 'env', variable: 'DOCKER_HOST' })
    expect(config.docker.image).toBe('env/img:1')
  })

  it('treats an empty variable as unset', async () => {
    const dirs = await makeConfigDirs()
    const env = { ...dirs.env, SAFE_CODER_BACKEND: '', ANTHROPIC_API_KEY: '' }
    const { config } = await loadConfig({ cwd: dirs.project, env })
    expect(config.isolation.backend).toBe('auto')
    expect(config.llm.api_key).toBeUndefined()
  })
})

describe('API keys from the environment', () => {
  it('reads the variable of the selected provider', async () => {
    const dirs = await makeConfigDirs()
    const env = { ...dirs.env, ANTHROPIC_API_KEY: 'sk-ant-1', OPENAI_API_KEY: 'sk-oai-1' }
    const anthropic = await loadConfig({ cwd: dirs.project, env })
    expect(anthropic.config.llm.api_key).toBe('sk-ant-1')
    expect(anthropic.origins['llm.api_key']).toEqual({ kind: 'env', variable: 'ANTHROPIC_API_KEY' })
    const openai = await loadConfig({
      cwd: dirs.project,
      env,
      flags: { 'llm.provider': { value: 'openai', flag: '--provider' } },
    })
    expect(openai.config.llm.api_key).toBe('sk-oai-1')
  })

  it('lets a key written in a file win over the variable, and a flag over both', async () => {
    const dirs = await makeConfigDirs()
    const file = await dirs.write(dirs.userFile, '[llm]\napi_key = "sk-from-file"\n')
    const env = { ...dirs.env, ANTHROPIC_API_KEY: 'sk-from-env' }
    const fromFile = await loadConfig({ cwd: dirs.project, env })
    expect(fromFile.config.llm.api_key).toBe('sk-from-file')
    expect(fromFile.origins['llm.api_key']).toEqual({ kind: 'file', path: file })
    const fromFlag = await loadConfig({
      cwd: dirs.project,
      env,
      flags: { 'llm.api_key': { value: 'sk-from-flag', flag: '--api-key' } },
    })
    expect(fromFlag.config.llm.api_key).toBe('sk-from-flag')
  })

  it('prefers OPENROUTER_API_KEY, then OPENAI_API_KEY, for openai-compatible', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(
      dirs.userFile,
      '[llm]\nprovider = "openai-compatible"\nbase_url = "https://openrouter.ai/api/v1"\n',
    )
    const both = { ...dirs.env, OPENROUTER_API_KEY: 'sk-or-1', OPENAI_API_KEY: 'sk-oai-1' }
    expect((await loadConfig({ cwd: dirs.project, env: both })).config.llm.api_key).toBe('sk-or-1')
    const openaiOnly = { ...dirs.env, OPENAI_API_KEY: 'sk-oai-1' }
    const loaded = await loadConfig({ cwd: dirs.project, env: openaiOnly })
    expect(loaded.config.llm.api_key).toBe('sk-oai-1')
  })

  it('sets no key for providers that need none', async () => {
    const dirs = await makeConfigDirs()
    await dirs.write(dirs.userFile, '[llm]\nprovider = "demo"\n')
    const env = { ...dirs.env, ANTHROPIC_API_KEY: 'sk-ant-1' }
    expect((await loadConfig({ cwd: dirs.project, env })).config.llm.api_key).toBeUndefined()
  })
})

describe('OLLAMA_HOST', () => {
  it('becomes base_url, with /v1, only when the provider is ollama', async () => {
    const dirs = await makeConfigDirs()
    const env = { ...dirs.env, OLLAMA_HOST: '127.0.0.1:11434' }
    expect((await loadConfig({ cwd: dirs.project, env })).config.llm.base_url).toBeUndefined()
    await dirs.write(dirs.userFile, '[llm]\nprovider = "ollama"\nbase_url = "http://x:1/v1"\n')
    const loaded = await loadConfig({ cwd: dirs.project, env })
    expect(loaded.config.llm.base_url).toBe('http://127.0.0.1:11434/v1')
    expect(loaded.origins['llm.base_url']).toEqual({ kind: 'env', variable: 'OLLAMA_HOST' })
  })

  it.each([
    ['127.0.0.1:11434', 'http://127.0.0.1:11434/v1'],
    ['0.0.0.0', 'http://0.0.0.0:11434/v1'],
    ['gpu-box', 'http://gpu-box:11434/v1'],
    ['http://gpu-box:8080', 'http://gpu-box:8080/v1'],
    ['https://ollama.example.com/', 'https://ollama.example.com/v1'],
    ['http://h:11434/v1', 'http://h:11434/v1'],
  ])('turns %s into %s', (host, url) => {
    expect(ollamaBaseUrl(host)).toBe(url)
  })
})
