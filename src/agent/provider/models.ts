import { createAnthropic } from '@ai-sdk/anthropic'
import { createOpenAI } from '@ai-sdk/openai'
import { createOpenAICompatible } from '@ai-sdk/openai-compatible'
import type { LanguageModelV3 } from '@ai-sdk/provider'

import { createDemoLanguageModel } from './demo-model.js'
import type { ProviderOptions } from './index.js'
import {
  apiKeyEnvVars,
  contextWindowFor,
  defaultModels,
  firstSet,
  ollamaBaseUrl,
  requireApiKey,
  requireSetting,
} from './settings.js'

/** A provider's SDK model plus what our error messages and compaction need to know. */
export interface ResolvedModel {
  model: LanguageModelV3
  provider: string
  modelId: string
  contextTokens: number
  /** Said with a 401/403: where the key comes from. */
  authHint: string
  /** Said when the server cannot be reached. */
  connectHint: string
}

/**
 * Builds the SDK model for one provider. Always a provider instance, never a bare model id:
 * a string id would route through the AI SDK's hosted gateway.
 */
export function resolveModel(options: ProviderOptions): ResolvedModel {
  const { env } = options
  const fetch = options.fetch
  switch (options.provider) {
    case 'anthropic': {
      const modelId = firstSet(options.model) ?? defaultModels.anthropic
      const apiKey = requireApiKey('anthropic', options.apiKey, env)
      const baseURL = firstSet(options.baseUrl)
      const provider = createAnthropic({
        apiKey,
        ...(baseURL && { baseURL }),
        ...(fetch && { fetch }),
      })
      return withMeta(options, provider(modelId), 'anthropic', modelId, baseURL)
    }
    case 'openai': {
      const modelId = firstSet(options.model) ?? defaultModels.openai
      const apiKey = requireApiKey('openai', options.apiKey, env)
      const baseURL = firstSet(options.baseUrl)
      const provider = createOpenAI({
        apiKey,
        ...(baseURL && { baseURL }),
        ...(fetch && { fetch }),
      })
      // `.chat`: the Chat Completions API, which every OpenAI-style server speaks.
      return withMeta(options, provider.chat(modelId), 'openai', modelId, baseURL)
    }
    case 'openai-compatible': {
      const baseURL = requireSetting(options.baseUrl, 'base_url')
      const modelId = requireSetting(options.model, 'model')
      const apiKey = firstSet(options.apiKey, env.OPENAI_API_KEY)
      const provider = createOpenAICompatible({
        name: 'openai-compatible',
        baseURL,
        includeUsage: true,
        ...(apiKey && { apiKey }),
        ...(fetch && { fetch }),
      })
      return withMeta(options, provider.chatModel(modelId), 'openai-compatible', modelId, baseURL)
    }
    case 'ollama': {
      const modelId = firstSet(options.model) ?? defaultModels.ollama
      const baseURL = ollamaBaseUrl(firstSet(options.baseUrl, env.OLLAMA_HOST))
      const provider = createOpenAICompatible({
        name: 'ollama',
        baseURL,
        includeUsage: true,
        ...(fetch && { fetch }),
      })
      return withMeta(options, provider.chatModel(modelId), 'ollama', modelId, baseURL)
    }
    case 'demo':
      return {
        model: createDemoLanguageModel(options.demoScript),
        provider: 'demo',
        modelId: 'demo',
        contextTokens: options.contextTokens ?? 200_000,
        authHint: '',
        connectHint: '',
      }
  }
}

function withMeta(
  options: ProviderOptions,
  model: LanguageModelV3,
  provider: 'anthropic' | 'openai' | 'openai-compatible' | 'ollama',
  modelId: string,
  baseURL: string | undefined,
): ResolvedModel {
  const envVar = apiKeyEnvVars[provider]
  const authHint =
    envVar === undefined
      ? `Check that the ${provider} server at ${baseURL ?? 'its address'} accepts the request.`
      : `Check the API key in ${envVar} or \`[llm] api_key\`; it was rejected.`
  const connectHint =
    provider === 'ollama'
      ? `Check that Ollama is running at ${baseURL ?? ''} (set OLLAMA_HOST if it runs elsewhere).`
      : `Check the network connection${baseURL === undefined ? '' : ` and that ${baseURL} is reachable`}.`
  return {
    model,
    provider,
    modelId,
    contextTokens: options.contextTokens ?? contextWindowFor(modelId),
    authHint,
    connectHint,
  }
}
