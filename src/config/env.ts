import { validateLayer } from './validate.js'
import { layerValues } from './merge.js'
import type { ProviderName } from './schema.js'
import type { ConfigLayer } from './types.js'

/** An environment variable that sets one key, above the config files. */
export interface EnvBinding {
  variable: string
  key: string
  /** Applies only when this provider is selected. */
  provider?: ProviderName
  toValue?: (text: string) => string
}

/** Variables that override files (precedence: files < environment < flags). */
export const envBindings: readonly EnvBinding[] = [
  { variable: 'SAFE_CODER_BACKEND', key: 'isolation.backend' },
  { variable: 'DOCKER_HOST', key: 'docker.socket' },
  { variable: 'SAFE_CODER_IMAGE', key: 'docker.image' },
  { variable: 'OLLAMA_HOST', key: 'llm.base_url', provider: 'ollama', toValue: ollamaBaseUrl },
]

/**
 * The API-key variables of each provider, first set wins. Unlike the bindings above they sit
 * below the files: a key written in a config file is the one the user chose for this project.
 * openai-compatible endpoints are most often OpenRouter, so its variable comes first.
 */
export const apiKeyVariables: Record<ProviderName, readonly string[]> = {
  anthropic: ['ANTHROPIC_API_KEY'],
  openai: ['OPENAI_API_KEY'],
  'openai-compatible': ['OPENROUTER_API_KEY', 'OPENAI_API_KEY'],
  ollama: [],
  demo: [],
}

/** One validated layer per variable that is set (empty counts as unset), lowest first. */
export function envLayers(env: NodeJS.ProcessEnv, provider: ProviderName): ConfigLayer[] {
  return envBindings.flatMap((binding) => {
    const text = env[binding.variable]
    if (text === undefined || text === '') return []
    if (binding.provider !== undefined && binding.provider !== provider) return []
    const value = binding.toValue === undefined ? text : binding.toValue(text)
    const origin = { kind: 'env', variable: binding.variable } as const
    return [{ origin, values: validateLayer(layerValues(binding.key, value), origin) }]
  })
}

/** The layer for the provider's API-key variable, if one is set; it goes below the files. */
export function apiKeyLayer(
  env: NodeJS.ProcessEnv,
  provider: ProviderName,
): ConfigLayer | undefined {
  const variable = apiKeyVariables[provider].find((name) => (env[name] ?? '') !== '')
  if (variable === undefined) return undefined
  const origin = { kind: 'env', variable } as const
  return { origin, values: validateLayer(layerValues('llm.api_key', env[variable]), origin) }
}

/**
 * OLLAMA_HOST as the base URL of Ollama's OpenAI-compatible API: `127.0.0.1:11434` →
 * `http://127.0.0.1:11434/v1`. Like Ollama's own client, a value without a scheme is http and
 * defaults to port 11434; a value with a scheme is taken as written.
 */
export function ollamaBaseUrl(host: string): string {
  let url = host.trim()
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    const [hostPort = '', ...rest] = url.split('/')
    const port = /:\d+$/.test(hostPort) ? '' : ':11434'
    url = [`http://${hostPort}${port}`, ...rest].join('/')
  }
  url = url.replace(/\/+$/, '')
  return url.endsWith('/v1') ? url : `${url}/v1`
}
