import { SafeCoderError } from '../../shared/errors.js'

export type ProviderName = 'anthropic' | 'openai' | 'openai-compatible' | 'ollama' | 'demo'

export const defaultModels: Record<'anthropic' | 'openai' | 'ollama', string> = {
  anthropic: 'claude-sonnet-4-5',
  openai: 'gpt-4.1',
  ollama: 'qwen2.5-coder',
}

export const apiKeyEnvVars: Partial<Record<ProviderName, string>> = {
  anthropic: 'ANTHROPIC_API_KEY',
  openai: 'OPENAI_API_KEY',
  'openai-compatible': 'OPENAI_API_KEY',
}

const OLLAMA_DEFAULT_HOST = 'http://127.0.0.1:11434'
const OLLAMA_DEFAULT_PORT = '11434'

/** Context windows by model-id prefix; the first match wins. */
const contextWindows: readonly (readonly [string, number])[] = [
  ['claude', 200_000],
  ['gpt-4.1', 1_000_000],
  ['gpt-4o', 128_000],
]
const DEFAULT_CONTEXT_TOKENS = 128_000

export function contextWindowFor(modelId: string): number {
  const id = modelId.toLowerCase()
  for (const [prefix, tokens] of contextWindows) if (id.startsWith(prefix)) return tokens
  return DEFAULT_CONTEXT_TOKENS
}

/** The first non-empty value, trimmed. */
export function firstSet(...values: (string | undefined)[]): string | undefined {
  for (const value of values) {
    const trimmed = value?.trim()
    if (trimmed !== undefined && trimmed !== '') return trimmed
  }
  return undefined
}

/** The API key from the options or the provider's env var; CONFIG_INVALID when there is none. */
export function requireApiKey(
  provider: 'anthropic' | 'openai',
  apiKey: string | undefined,
  env: Record<string, string | undefined>,
): string {
  const envVar = apiKeyEnvVars[provider] ?? ''
  const key = firstSet(apiKey, env[envVar])
  if (key !== undefined) return key
  throw new SafeCoderError(
    'CONFIG_INVALID',
    `No API key for ${provider}: set ${envVar} or \`[llm] api_key\` in the config.`,
    {
      hint: `Export ${envVar}=<your key> in the shell that runs safe-coder, or add api_key under [llm] in the config file.`,
      data: { provider, envVar, configKey: '[llm] api_key' },
    },
  )
}

/** A required `[llm]` setting of the openai-compatible provider. */
export function requireSetting(value: string | undefined, key: 'base_url' | 'model'): string {
  const set = firstSet(value)
  if (set !== undefined) return set
  const example =
    key === 'base_url' ? 'base_url = "http://localhost:8000/v1"' : 'model = "my-model"'
  throw new SafeCoderError(
    'CONFIG_INVALID',
    `The openai-compatible provider needs \`[llm] ${key}\`.`,
    {
      hint: `Add ${example} under [llm] in the config file.`,
      data: { provider: 'openai-compatible', configKey: `[llm] ${key}` },
    },
  )
}

/**
 * The OpenAI-compatible endpoint of an Ollama server. `host` is OLLAMA_HOST's format:
 * "127.0.0.1:11434", "host" (port 11434), "http://host:11434" or "https://host".
 */
export function ollamaBaseUrl(host: string | undefined): string {
  const raw = firstSet(host) ?? OLLAMA_DEFAULT_HOST
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw)
  let url: URL
  try {
    url = new URL(hasScheme ? raw : `http://${raw}`)
  } catch (error) {
    throw new SafeCoderError('CONFIG_INVALID', `Invalid Ollama host "${raw}".`, {
      hint: 'Set OLLAMA_HOST (or [llm] base_url) to a host such as 127.0.0.1:11434.',
      cause: error,
      data: { host: raw },
    })
  }
  if (!hasScheme && url.port === '') url.port = OLLAMA_DEFAULT_PORT
  const path = url.pathname.replace(/\/+$/, '')
  return `${url.origin}${path.endsWith('/v1') ? path : `${path}/v1`}`
}
