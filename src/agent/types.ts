import type { z } from 'zod'

/**
 * The conversation as Safe Coder stores it (one JSON value per line of `transcript.jsonl`).
 * Plain data of our own: the provider adapter converts it to and from the AI SDK's messages,
 * so nothing outside `agent/provider` depends on the SDK's types.
 */
export type AgentMessage = UserMessage | AssistantMessage | ToolMessage

export interface UserMessage {
  role: 'user'
  content: string
}

export interface AssistantMessage {
  role: 'assistant'
  content: AssistantPart[]
}

export interface ToolMessage {
  role: 'tool'
  content: ToolResultPart[]
}

export type AssistantPart =
  | { type: 'text'; text: string }
  | { type: 'tool-call'; toolCallId: string; toolName: string; input: unknown }

export interface ToolResultPart {
  type: 'tool-result'
  toolCallId: string
  toolName: string
  /** What the model reads: the tool's output, or the reason it failed. */
  output: string
  isError: boolean
}

/** Token counts as the provider reported them (0 when it did not). */
export interface Usage {
  inputTokens: number
  outputTokens: number
  totalTokens: number
}

/** A tool as the model sees it: its name, what it does, and its input schema. */
export interface ToolSpec {
  name: string
  description: string
  inputSchema: z.ZodType
}

/** One model call: the whole context in, one assistant step streamed out. */
export interface ModelStepRequest {
  system: string
  messages: AgentMessage[]
  /** Empty for a call that must answer in text (e.g. summarising for compaction). */
  tools: ToolSpec[]
  maxOutputTokens?: number
  signal?: AbortSignal
}

export type FinishReason = 'stop' | 'tool-calls' | 'length' | 'content-filter'

export type ModelStepEvent =
  | { type: 'text-delta'; text: string }
  /**
   * A complete tool call. `invalid` carries why it cannot run (unknown tool, input that is not
   * JSON or does not match the schema); the loop returns that to the model as a tool error.
   */
  | { type: 'tool-call'; toolCallId: string; toolName: string; input: unknown; invalid?: string }
  /** A retryable failure was met; the step is retried after `delayMs`. */
  | { type: 'retry'; attempt: number; delayMs: number; reason: string }
  /** The last event of every successful step. */
  | { type: 'finish'; finishReason: FinishReason; usage: Usage }

/**
 * A language model behind one provider. `streamStep` yields the events of one assistant step
 * and ends with `finish`; every failure (HTTP error after retries, `error` stream part,
 * truncated stream, finish reason `other`/`error`, idle stream) is thrown as a SafeCoderError
 * with code PROVIDER_FAILED, and a fired signal as ABORTED — never a silent partial answer.
 */
export interface ChatModel {
  readonly provider: string
  readonly modelId: string
  /** Context window in tokens, for compaction. */
  readonly contextTokens: number
  streamStep(request: ModelStepRequest): AsyncIterable<ModelStepEvent>
}
