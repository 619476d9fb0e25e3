import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Prompt,
  LanguageModelV3StreamPart,
  LanguageModelV3Usage,
} from '@ai-sdk/provider'
import { builtinDemoStep, type DemoView } from './demo-scenario.js'
import { demoScriptSchema, type DemoScript, type DemoStep } from './demo-script.js'

/** Pause between streamed chunks of the built-in scenario, so the demo reads like a model. */
const BUILTIN_DELAY_MS = 8

/**
 * The `demo` provider: a scripted language model that needs no key and no network. It sits
 * behind the same AI SDK `streamText` path as the real providers, so the demo exercises the
 * whole product: loop, tools, sandbox, commits and events. Without a script it plays the
 * built-in scenario on whatever project it is given.
 */
export function createDemoLanguageModel(script?: unknown): LanguageModelV3 {
  const parsed: DemoScript | undefined =
    script === undefined ? undefined : demoScriptSchema.parse(script)
  let calls = 0
  return {
    specificationVersion: 'v3',
    provider: 'demo',
    modelId: 'demo',
    supportedUrls: {},
    doGenerate() {
      return Promise.reject(new Error('The demo model only streams.'))
    },
    doStream(options: LanguageModelV3CallOptions) {
      calls += 1
      const view = viewOf(options.prompt)
      const step = parsed === undefined ? builtinDemoStep(view) : scriptedStep(parsed, view)
      const delayMs = parsed === undefined ? BUILTIN_DELAY_MS : parsed.delay_ms
      const signal = options.abortSignal
      const parts = streamParts(step, calls, JSON.stringify(options.prompt).length)
      const stream = new ReadableStream<LanguageModelV3StreamPart>({
        async start(controller) {
          for (const part of parts) {
            if (delayMs > 0 && part.type === 'text-delta') await pause(delayMs, signal)
            if (signal?.aborted === true) break
            controller.enqueue(part)
          }
          if (signal?.aborted === true) controller.error(signal.reason)
          else controller.close()
        },
      })
      return Promise.resolve({ stream })
    },
  }
}

/** The step a script gives for this point of the conversation. */
function scriptedStep(script: DemoScript, view: DemoView): DemoStep {
  const turn = script.turns[view.turn - 1]
  if (turn === undefined) return { text: 'The demo script has no more turns.', tool_calls: [] }
  // Past the last step, the turn ends with an empty answer rather than repeating a tool call.
  return turn.steps[view.steps] ?? { text: '', tool_calls: [] }
}

function viewOf(prompt: LanguageModelV3Prompt): DemoView {
  let turn = 0
  let userText = ''
  let results: DemoView['results'] = []
  let steps = 0
  for (const message of prompt) {
    if (message.role === 'user') {
      turn += 1
      userText = message.content.map((p) => (p.type === 'text' ? p.text : '')).join('')
      results = []
      steps = 0
    } else if (message.role === 'tool') {
      steps += 1
      for (const part of message.content) {
        if (part.type !== 'tool-result') continue
        const out = part.output
        const isError = out.type === 'error-text' || out.type === 'error-json'
        const output =
          out.type === 'text' || out.type === 'error-text'
            ? out.value
            : out.type === 'json' || out.type === 'error-json'
              ? JSON.stringify(out.value)
              : ''
        results.push({ toolName: part.toolName, output, isError })
      }
    }
  }
  return { turn: Math.max(turn, 1), userText, results, steps }
}

function* streamParts(
  step: DemoStep,
  call: number,
  inputChars: number,
): Generator<LanguageModelV3StreamPart> {
  yield { type: 'stream-start', warnings: [] }
  yield { type: 'response-metadata', id: `demo-${call}`, modelId: 'demo' }
  let outputChars = 0
  if (step.text !== '') {
    const id = `text-${call}`
    yield { type: 'text-start', id }
    for (const chunk of step.text.match(/\S+\s*|\s+/g) ?? []) {
      outputChars += chunk.length
      yield { type: 'text-delta', id, delta: chunk }
    }
    yield { type: 'text-end', id }
  }
  for (const [index, toolCall] of step.tool_calls.entries()) {
    const input = JSON.stringify(toolCall.input)
    outputChars += input.length
    yield {
      type: 'tool-call',
      toolCallId: `demo-${call}-${index + 1}`,
      toolName: toolCall.tool,
      input,
    }
  }
  const calledTools = step.tool_calls.length > 0
  yield {
    type: 'finish',
    finishReason: {
      unified: calledTools ? 'tool-calls' : 'stop',
      raw: calledTools ? 'tool_use' : 'end_turn',
    },
    usage: usage(Math.ceil(inputChars / 4), Math.ceil(outputChars / 4)),
  }
}

/** Token counts estimated at four characters a token, so usage and compaction have data. */
function usage(input: number, output: number): LanguageModelV3Usage {
  return {
    inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: output, text: output, reasoning: 0 },
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}
