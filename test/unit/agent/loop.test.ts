import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { runTurn, type ToolCallRequest, type TurnEvent } from '../../../src/agent/loop.js'
import type { Tool } from '../../../src/agent/tools/types.js'
import type {
  AgentMessage,
  ChatModel,
  ModelStepEvent,
  ModelStepRequest,
} from '../../../src/agent/types.js'
import { SafeCoderError } from '../../../src/shared/errors.js'

const usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 }

/** A model that plays one list of events per step and records every request. */
function scriptedModel(steps: (ModelStepEvent[] | Error)[], contextTokens = 100_000) {
  const requests: ModelStepRequest[] = []
  const model: ChatModel = {
    provider: 'fake',
    modelId: 'fake-1',
    contextTokens,
    async *streamStep(request) {
      requests.push(structuredClone({ ...request, signal: undefined, tools: [] }))
      const step = steps.shift()
      if (step === undefined) throw new Error('no more scripted steps')
      if (step instanceof Error) throw step
      for (const event of step) {
        await Promise.resolve()
        if (event.type === 'text-delta' && request.signal?.aborted === true) {
          throw new SafeCoderError('ABORTED', 'cancelled')
        }
        yield event
      }
    },
  }
  return { model, requests }
}

const text = (t: string): ModelStepEvent => ({ type: 'text-delta', text: t })
const call = (id: string, toolName: string, input: unknown, invalid?: string): ModelStepEvent => ({
  type: 'tool-call',
  toolCallId: id,
  toolName,
  input,
  ...(invalid === undefined ? {} : { invalid }),
})
const finish = (reason: 'stop' | 'tool-calls'): ModelStepEvent => ({
  type: 'finish',
  finishReason: reason,
  usage,
})

const echo: Tool = {
  name: 'echo',
  description: 'Echoes its input.',
  inputSchema: z.object({ say: z.string() }),
  kind: 'read',
  describe: (args: { say: string }) => args.say,
  run: () => Promise.reject(new Error('the session runs tools, not the tool itself')),
}

function turn(
  model: ChatModel,
  runTool: (call: ToolCallRequest) => Promise<{ output: string; isError: boolean }>,
  overrides: Partial<Parameters<typeof runTurn>[0]> = {},
) {
  const events: TurnEvent[] = []
  const messages: AgentMessage[] = [{ role: 'user', content: 'go' }]
  const promise = runTurn({
    model,
    tools: [echo],
    system: 'be brief',
    messages,
    signal: new AbortController().signal,
    maxSteps: 10,
    maxOutputTokens: 1000,
    emit: (e) => events.push(e),
    runTool,
    ...overrides,
  })
  return { promise, events }
}

describe('runTurn', () => {
  it('runs tool calls between model steps and returns the final answer', async () => {
    const { model, requests } = scriptedModel([
      [text('Let me check. '), call('c1', 'echo', { say: 'hi' }), finish('tool-calls')],
      [text('It said hi.'), finish('stop')],
    ])
    const ran: unknown[] = []
    const { promise, events } = turn(model, (c) => {
      ran.push(c.input)
      return Promise.resolve({ output: 'hi', isError: false })
    })
    const result = await promise
    expect(ran).toEqual([{ say: 'hi' }])
    expect(result.text).toBe('It said hi.')
    expect(result.steps).toBe(2)
    expect(result.usage.totalTokens).toBe(30)
    expect(result.messages).toEqual([
      { role: 'user', content: 'go' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check. ' },
          { type: 'tool-call', toolCallId: 'c1', toolName: 'echo', input: { say: 'hi' } },
        ],
      },
      {
        role: 'tool',
        content: [
          { type: 'tool-result', toolCallId: 'c1', toolName: 'echo', output: 'hi', isError: false },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'It said hi.' }] },
    ])
    // The second request carries the tool result; the system prompt goes with every step.
    expect(requests[1]?.messages.at(-1)?.role).toBe('tool')
    expect(requests.every((r) => r.system === 'be brief')).toBe(true)
    expect(events.filter((e) => e.type === 'message')).toHaveLength(3)
    expect(events.flatMap((e) => (e.type === 'text' ? [e.text] : []))).toEqual([
      'Let me check. ',
      'It said hi.',
    ])
  })

  it('returns unknown tools and invalid calls to the model as errors, without running them', async () => {
    const { model } = scriptedModel([
      [
        call('c1', 'rm_rf', {}),
        call('c2', 'echo', '{not json', 'The input is not valid JSON.'),
        finish('tool-calls'),
      ],
      [text('ok'), finish('stop')],
    ])
    let ran = 0
    const { promise } = turn(model, () => {
      ran++
      return Promise.resolve({ output: '', isError: false })
    })
    const result = await promise
    expect(ran).toBe(0)
    const results = result.messages[2]
    expect(results?.role).toBe('tool')
    if (results?.role !== 'tool') return
    expect(results.content[0]?.isError).toBe(true)
    expect(results.content[0]?.output).toMatch(/no tool named "rm_rf".*Available: echo/)
    expect(results.content[1]).toMatchObject({
      isError: true,
      output: 'The input is not valid JSON.',
    })
  })

  it('stops at the step limit with STEP_LIMIT', async () => {
    const steps = Array.from({ length: 3 }, (_, i) => [
      call(`c${i}`, 'echo', { say: String(i) }),
      finish('tool-calls'),
    ])
    const { model } = scriptedModel(steps)
    const { promise } = turn(model, () => Promise.resolve({ output: 'x', isError: false }), {
      maxSteps: 3,
    })
    await expect(promise).rejects.toMatchObject({ code: 'STEP_LIMIT' })
  })

  it('stops a model that repeats the same call', async () => {
    const steps = Array.from({ length: 8 }, (_, i) => [
      call(`c${i}`, 'echo', { say: 'again' }),
      finish('tool-calls'),
    ])
    const { model } = scriptedModel(steps)
    const { promise, events } = turn(model, () => Promise.resolve({ output: 'x', isError: false }))
    await expect(promise).rejects.toMatchObject({
      code: 'STEP_LIMIT',
      message: expect.stringMatching(/same echo call 5 times/) as unknown,
    })
    // The history stays valid: the last call got a result too.
    const last = events.filter((e) => e.type === 'message').at(-1)
    expect(last?.type === 'message' && last.message.role).toBe('tool')
  })

  it('gives every call of a cancelled step a result, then fails with ABORTED', async () => {
    const controller = new AbortController()
    const { model } = scriptedModel([
      [call('c1', 'echo', { say: 'a' }), call('c2', 'echo', { say: 'b' }), finish('tool-calls')],
    ])
    const { promise, events } = turn(
      model,
      () => {
        controller.abort()
        return Promise.reject(new SafeCoderError('ABORTED', 'cancelled'))
      },
      { signal: controller.signal },
    )
    await expect(promise).rejects.toMatchObject({ code: 'ABORTED' })
    const messages = events.flatMap((e) => (e.type === 'message' ? [e.message] : []))
    const results = messages.at(-1)
    expect(results?.role).toBe('tool')
    if (results?.role !== 'tool') return
    expect(results.content.map((r) => [r.toolCallId, r.output])).toEqual([
      ['c1', 'Cancelled by the user.'],
      ['c2', 'Cancelled by the user.'],
    ])
  })

  it('keeps streamed text when the provider fails mid-step, and fails the turn', async () => {
    const { model } = scriptedModel([
      [text('partial '), { type: 'finish', finishReason: 'stop', usage }],
    ])
    const failing: ChatModel = {
      ...model,
      async *streamStep() {
        await Promise.resolve()
        yield text('half an ans')
        throw new SafeCoderError('PROVIDER_FAILED', 'stream cut')
      },
    }
    const { promise, events } = turn(failing, () => Promise.reject(new Error('unused')))
    await expect(promise).rejects.toMatchObject({ code: 'PROVIDER_FAILED' })
    const kept = events.find((e) => e.type === 'message')
    expect(kept).toEqual({
      type: 'message',
      message: { role: 'assistant', content: [{ type: 'text', text: 'half an ans' }] },
    })
  })

  it('fails when a step ends without a finish event', async () => {
    const { model } = scriptedModel([[text('no finish')]])
    const { promise } = turn(model, () => Promise.reject(new Error('unused')))
    await expect(promise).rejects.toMatchObject({ code: 'PROVIDER_FAILED' })
  })

  it('compacts a conversation that outgrows the window: old tool outputs first', async () => {
    const big = 'x'.repeat(4000)
    const history: AgentMessage[] = []
    for (let i = 0; i < 4; i++) {
      history.push({
        role: 'assistant',
        content: [
          { type: 'tool-call', toolCallId: `o${i}`, toolName: 'echo', input: { say: 'x' } },
        ],
      })
      history.push({
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: `o${i}`,
            toolName: 'echo',
            output: big,
            isError: false,
          },
        ],
      })
    }
    const { model, requests } = scriptedModel([[text('done'), finish('stop')]], 4000)
    const { promise, events } = turn(model, () => Promise.reject(new Error('unused')), {
      messages: [
        { role: 'user', content: 'start' },
        ...history,
        { role: 'user', content: 'go on' },
      ],
      maxOutputTokens: 500,
    })
    await promise
    const compacted = events.find((e) => e.type === 'compacted')
    expect(compacted?.type === 'compacted' && compacted.result.stage).toBe('pruned')
    const outputs = (requests[0]?.messages ?? []).flatMap((m) =>
      m.role === 'tool' ? m.content.map((p) => p.output.length) : [],
    )
    // The two newest results keep their output; the older ones are replaced by a marker.
    expect(outputs.filter((n) => n === 4000)).toHaveLength(2)
    expect(outputs.filter((n) => n < 200)).toHaveLength(2)
  })

  it('summarises when pruning is not enough', async () => {
    const long = 'y'.repeat(40_000)
    const { model, requests } = scriptedModel(
      [
        [text('Summary: the user talked a lot.'), finish('stop')],
        [text('continuing'), finish('stop')],
      ],
      8000,
    )
    const { promise, events } = turn(model, () => Promise.reject(new Error('unused')), {
      messages: [
        { role: 'user', content: long },
        { role: 'assistant', content: [{ type: 'text', text: 'noted' }] },
        { role: 'user', content: 'next' },
      ],
      maxOutputTokens: 500,
    })
    const result = await promise
    expect(events.some((e) => e.type === 'compacted' && e.result.stage === 'summarised')).toBe(true)
    expect(requests[0]?.tools).toEqual([])
    expect(result.messages[0]).toEqual({
      role: 'user',
      content: 'Summary of the conversation so far:\n\nSummary: the user talked a lot.',
    })
    expect(result.messages.some((m) => m.role === 'user' && m.content === long)).toBe(false)
    expect(result.text).toBe('continuing')
  })
})
