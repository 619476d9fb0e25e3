import type { ChatModel } from '../types.js'
import { resolveModel } from './models.js'
import { createStreamingChatModel } from './stream-step.js'

export interface ProviderOptions {
  provider: 'anthropic' | 'openai' | 'openai-compatible' | 'ollama' | 'demo'
  /** Default per provider: anthropic claude-sonnet-4-5, openai gpt-4.1, ollama qwen2.5-coder; openai-compatible requires it. */
  model?: string
  /** Else from env: ANTHROPIC_API_KEY / OPENAI_API_KEY (optional for openai-compatible); ollama needs none. */
  apiKey?: string
  /**
   * anthropic/openai: override of the API base URL (including /v1); openai-compatible: required;
   * ollama: the Ollama host (default OLLAMA_HOST, else http://127.0.0.1:11434), endpoint <host>/v1.
   */
  baseUrl?: string
  env: Record<string, string | undefined>
  /** HTTP-level retries for 429/5xx/overloaded (529), and for a stream that failed before any output. */
  maxRetries: number
  /** No stream part for this long → PROVIDER_FAILED. */
  idleTimeoutMs: number
  /** Override of the context window. */
  contextTokens?: number
  /** Test seam. */
  fetch?: typeof globalThis.fetch
  /** Passed to createDemoLanguageModel. */
  demoScript?: unknown
  /** Test seam: the first backoff interval when no retry-after is given (default 1 s). */
  retryBaseDelayMs?: number
}

/**
 * The chat model for the configured provider. Throws CONFIG_INVALID for a missing key, base URL
 * or model; every provider goes through the same streaming path (stream-step.ts).
 */
export function createChatModel(options: ProviderOptions): ChatModel {
  return createStreamingChatModel(resolveModel(options), {
    maxRetries: options.maxRetries,
    idleTimeoutMs: options.idleTimeoutMs,
    ...(options.retryBaseDelayMs !== undefined && { retryBaseDelayMs: options.retryBaseDelayMs }),
  })
}
