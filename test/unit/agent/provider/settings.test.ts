import { describe, expect, test } from 'vitest'

import { createChatModel } from '../../../../src/agent/provider/index.js'
import type { ProviderOptions } from '../../../../src/agent/provider/index.js'
import { contextWindowFor, ollamaBaseUrl } from '../../../../src/agent/provider/settings.js'
import { SafeCoderError } from '../../../../src/shared/errors.js'

const base = { env: {}, maxRetries: 0, idleTimeoutMs: 1_000 }

function configError(options: ProviderOptions): SafeCoderError {
  try {
    createChatModel(options)
  } catch (error) {
    if (error instanceof SafeCoderError) return error
    throw error
  }
  throw new Error('expected CONFIG_INVALID')
}

describe('createChatModel: configuration', () => {
  test.each([
    ['anthropic', 'ANTHROPIC_API_KEY'],
    ['openai', 'OPENAI_API_KEY'],
  ] as const)(
    '%s without a key: CONFIG_INVALID naming %s and [llm] api_key',
    (provider, envVar) => {
      const error = configError({ ...base, provider, env: { [envVar]: '  ' } })
      expect(error.code).toBe('CONFIG_INVALID')
      expect(error.message).toBe(
        `No API key for ${provider}: set ${envVar} or \`[llm] api_key\` in the config.`,
      )
      expect(error.hint).toContain(envVar)
      expect(error.hint).toContain('[llm]')
      expect(error.data).toEqual({ provider, envVar, configKey: '[llm] api_key' })
    },
  )

  test('openai-compatible needs [llm] base_url and [llm] model', () => {
    const noUrl = configError({ ...base, provider: 'openai-compatible', model: 'm' })
    expect(noUrl.code).toBe('CONFIG_INVALID')
    expect(noUrl.message).toContain('`[llm] base_url`')
    expect(noUrl.hint).toContain('base_url = ')
    const noModel = configError({
      ...base,
      provider: 'openai-compatible',
      baseUrl: 'http://localhost:8000/v1',
    })
    expect(noModel.message).toContain('`[llm] model`')
    expect(noModel.hint).toContain('model = ')
  })

  test('openai-compatible and ollama need no key', () => {
    expect(() =>
      createChatModel({
        ...base,
        provider: 'openai-compatible',
        baseUrl: 'http://x/v1',
        model: 'm',
      }),
    ).not.toThrow()
    expect(createChatModel({ ...base, provider: 'ollama' }).modelId).toBe('qwen2.5-coder')
  })

  test('default models and context windows', () => {
    const anthropic = createChatModel({ ...base, provider: 'anthropic', apiKey: 'k' })
    expect([anthropic.provider, anthropic.modelId, anthropic.contextTokens]).toEqual([
      'anthropic',
      'claude-sonnet-4-5',
      200_000,
    ])
    const openai = createChatModel({ ...base, provider: 'openai', env: { OPENAI_API_KEY: 'k' } })
    expect([openai.provider, openai.modelId, openai.contextTokens]).toEqual([
      'openai',
      'gpt-4.1',
      1_000_000,
    ])
    const custom = createChatModel({
      ...base,
      provider: 'openai',
      apiKey: 'k',
      model: 'gpt-4o-mini',
      contextTokens: 32_000,
    })
    expect(custom.contextTokens).toBe(32_000)
  })

  test.each([
    ['claude-opus-4-1', 200_000],
    ['gpt-4.1-mini', 1_000_000],
    ['gpt-4o-mini', 128_000],
    ['qwen2.5-coder', 128_000],
  ])('context window of %s is %i', (model, tokens) => {
    expect(contextWindowFor(model)).toBe(tokens)
  })
})

describe('ollamaBaseUrl', () => {
  test.each([
    [undefined, 'http://127.0.0.1:11434/v1'],
    ['', 'http://127.0.0.1:11434/v1'],
    ['127.0.0.1:11434', 'http://127.0.0.1:11434/v1'],
    ['gpu-box', 'http://gpu-box:11434/v1'],
    ['0.0.0.0:9999', 'http://0.0.0.0:9999/v1'],
    ['http://ollama.lan:11434', 'http://ollama.lan:11434/v1'],
    ['http://ollama.lan:11434/', 'http://ollama.lan:11434/v1'],
    ['https://ollama.example.com', 'https://ollama.example.com/v1'],
    ['http://proxy/ollama/v1', 'http://proxy/ollama/v1'],
  ])('%s → %s', (host, url) => {
    expect(ollamaBaseUrl(host)).toBe(url)
  })

  test('an unparsable host is CONFIG_INVALID', () => {
    let error: unknown
    try {
      ollamaBaseUrl('http://[bad')
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' })
  })
})
