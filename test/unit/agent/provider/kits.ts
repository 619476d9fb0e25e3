/** Per-provider wire kits for the shared provider contract tests. */
import { createChatModel } from '../../../../src/agent/provider/index.js'
import type { ProviderOptions } from '../../../../src/agent/provider/index.js'
import type { ChatModel } from '../../../../src/agent/types.js'
import {
  anthropicErrorEvent,
  anthropicHttpError,
  anthropicMessageEvents,
  chatCompletionEvents,
  chatErrorLine,
  chatHttpError,
  streamOf,
} from '../../../helpers/fake-llm/index.js'
import type {
  ChatFlavour,
  FakeLlmServer,
  ScriptedResponse,
  StreamEnd,
} from '../../../helpers/fake-llm/index.js'

export interface ToolCallScript {
  id: string
  name: string
  /** The arguments JSON in streamed pieces. */
  args: string[]
}

export interface WireKit {
  provider: 'anthropic' | 'openai' | 'openai-compatible' | 'ollama'
  modelId: string
  path: string
  /** The env var named in 401/403 hints, if the provider has one. */
  keyEnvVar: string | undefined
  createModel(server: FakeLlmServer, overrides?: Partial<ProviderOptions>): ChatModel
  /** All events of a complete answer. */
  answer(text: string[], toolCalls?: ToolCallScript[]): string[]
  /** The events of an answer up to and including its first text delta. */
  upToFirstText(text: string[]): string[]
  /** An in-stream error event. */
  errorEvent(): string
  /** A data line whose JSON is cut off. */
  malformed(): string
  httpError(status: number, headers?: Record<string, string>): ScriptedResponse
  /**
   * The retry header of the 429 test and the wait it asks for: `retry-after: 1` (seconds) for
   * Anthropic and OpenAI; the compatible servers get `retry-after-ms` to keep the suite fast.
   */
  retryAfter: { headers: Record<string, string>; ms: number }
  stream(events: string[], end?: StreamEnd): ScriptedResponse
}

// The idle watchdog is a hang detector here: a loaded machine can pause a stream for longer than
// any short limit, and a watchdog retry would take the next scripted answer. The watchdog's own
// test sets a short one.
const fastRetries = { maxRetries: 2, idleTimeoutMs: 30_000, retryBaseDelayMs: 10 }

export const anthropicKit: WireKit = {
  provider: 'anthropic',
  modelId: 'claude-test',
  path: '/v1/messages',
  keyEnvVar: 'ANTHROPIC_API_KEY',
  retryAfter: { headers: { 'retry-after': '1' }, ms: 1000 },
  createModel: (server, overrides = {}) =>
    createChatModel({
      provider: 'anthropic',
      model: 'claude-test',
      baseUrl: `${server.url}/v1`,
      env: { ANTHROPIC_API_KEY: 'sk-ant-test' },
      ...fastRetries,
      ...overrides,
    }),
  answer: (text, toolCalls = []) =>
    anthropicMessageEvents({
      text,
      toolUses: toolCalls.map((c) => ({ id: c.id, name: c.name, partialJson: c.args })),
    }),
  // message_start, content_block_start, ping, first text_delta
  upToFirstText: (text) => anthropicMessageEvents({ text }).slice(0, 4),
  errorEvent: () => anthropicErrorEvent('overloaded_error', 'Overloaded'),
  malformed: () =>
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_de\n\n',
  httpError: (status, headers) =>
    status === 429
      ? anthropicHttpError(
          429,
          'rate_limit_error',
          'Number of requests has exceeded your rate limit',
          headers,
        )
      : status === 401
        ? anthropicHttpError(401, 'authentication_error', 'invalid x-api-key', headers)
        : status === 400
          ? anthropicHttpError(400, 'invalid_request_error', 'messages: field required', headers)
          : anthropicHttpError(status, 'api_error', 'Internal server error', headers),
  stream: (events, end) => streamOf(events, { end: end ?? 'end' }),
}

function chatKit(
  provider: 'openai' | 'openai-compatible' | 'ollama',
  flavour: ChatFlavour,
  modelId: string,
  keyEnvVar: string | undefined,
  options: (server: FakeLlmServer) => ProviderOptions,
): WireKit {
  const answer = (text: string[], toolCalls: ToolCallScript[] = []): string[] =>
    chatCompletionEvents({
      flavour,
      text,
      toolCalls: toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.args })),
    })
  return {
    provider,
    modelId,
    path: '/v1/chat/completions',
    keyEnvVar,
    retryAfter:
      provider === 'openai'
        ? { headers: { 'retry-after': '1' }, ms: 1000 }
        : { headers: { 'retry-after-ms': '300' }, ms: 300 },
    createModel: (server, overrides = {}) =>
      createChatModel({ ...options(server), ...fastRetries, ...overrides }),
    answer,
    upToFirstText: (text) => answer(text).slice(0, flavour === 'openai' ? 2 : 1),
    errorEvent: () => chatErrorLine('The server had an error while processing your request.'),
    malformed: () =>
      'data: {"id":"chatcmpl-AbC123","choices":[{"index":0,"delta":{"content":"x"\n\n',
    httpError: (status, headers) =>
      status === 429
        ? chatHttpError(429, 'Rate limit reached for requests', 'requests', headers)
        : status === 401
          ? chatHttpError(401, 'Incorrect API key provided', 'invalid_request_error', headers)
          : status === 400
            ? chatHttpError(
                400,
                "Invalid 'messages': empty array",
                'invalid_request_error',
                headers,
              )
            : chatHttpError(status, 'The server had an error', 'server_error', headers),
    stream: (events, end) => streamOf(events, { end: end ?? 'end' }),
  }
}

export const openaiKit = chatKit('openai', 'openai', 'gpt-test', 'OPENAI_API_KEY', (server) => ({
  provider: 'openai',
  model: 'gpt-test',
  baseUrl: `${server.url}/v1`,
  env: { OPENAI_API_KEY: 'sk-test' },
  maxRetries: 0,
  idleTimeoutMs: 0,
}))

export const openaiCompatibleKit = chatKit(
  'openai-compatible',
  'openai',
  'local-coder',
  'OPENAI_API_KEY',
  (server) => ({
    provider: 'openai-compatible',
    model: 'local-coder',
    baseUrl: `${server.url}/v1`,
    env: {},
    maxRetries: 0,
    idleTimeoutMs: 0,
  }),
)

export const ollamaKit = chatKit('ollama', 'ollama', 'qwen2.5-coder', undefined, (server) => ({
  provider: 'ollama',
  // OLLAMA_HOST in its usual host:port form.
  env: { OLLAMA_HOST: server.url.replace('http://', '') },
  maxRetries: 0,
  idleTimeoutMs: 0,
}))
