import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { expect } from 'vitest'
import {
  chatCompletionEvents,
  chatHttpError,
  chatStream,
  startFakeLlm,
  type FakeLlmServer,
  type ScriptedResponse,
} from '../helpers/fake-llm/index.js'
import { outputText, toolResults, type RunSummary } from './helpers/agent.js'
import { gauntlet, suite, type CaseContext } from './helpers/cases.js'
import { afterFault } from './helpers/recovery.js'
import { STACK_FRAME, show, type CliResult, type World } from './helpers/world.js'

/**
 * Provider failures, with the fake OpenAI-compatible server of test/helpers/fake-llm: rate-limit
 * storms, server errors, cut and stalled streams, malformed or unknown tool calls, invalid
 * arguments, and a model that loops. Then the same recovery checks as every fault.
 */

let calls = 0

function toolCall(name: string, args: string): ScriptedResponse {
  return chatStream(
    chatCompletionEvents({
      flavour: 'openai',
      toolCalls: [{ id: `call_${++calls}`, name, arguments: [args] }],
    }),
  )
}

function answer(text: string): ScriptedResponse {
  return chatStream(chatCompletionEvents({ flavour: 'openai', text: [text] }))
}

/** Points the world's user config at the fake server (base_url is refused in project files). */
async function useFake(w: World, fake: FakeLlmServer, retries = 3): Promise<void> {
  const dir = path.join(w.home, '.config/safe-coder')
  await mkdir(dir, { recursive: true })
  await writeFile(
    path.join(dir, 'config.toml'),
    `[llm]\nprovider = "openai-compatible"\nbase_url = "${fake.url}/v1"\nmodel = "fake-model"\nmax_retries = ${retries}\nidle_timeout_s = 2\n\n[agent]\nmax_steps = 12\n`,
  )
  await w.rebase()
}

async function run(
  w: World,
  args: string[] = [],
): Promise<{ result: CliResult; summary?: RunSummary; id: string }> {
  const result = await w.cli(['run', '--json', ...args, 'do the task'], { timeout: 180_000 })
  let summary: RunSummary | undefined
  try {
    summary = JSON.parse(result.stdout) as RunSummary
  } catch {
    summary = undefined
  }
  return { result, ...(summary === undefined ? {} : { summary }), id: summary?.sessionId ?? '' }
}

/** A provider failure must end the run with 75, one clear message and a hint, no stack. */
function expectProviderFailure(
  c: CaseContext,
  r: { result: CliResult; summary?: RunSummary },
  pattern: RegExp,
): void {
  expect(r.result.exitCode, show(r.result)).toBe(75)
  expect(r.result.stderr).not.toMatch(STACK_FRAME)
  expect(r.summary?.error?.code).toBe('PROVIDER_FAILED')
  expect(r.summary?.error?.message ?? '').toMatch(pattern)
  c.note(`exit 75: ${(r.summary?.error?.message ?? '').slice(0, 110)}`)
}

function withFake(
  body: (w: World, c: CaseContext, fake: FakeLlmServer) => Promise<void>,
  retries = 3,
): (w: World, c: CaseContext) => Promise<void> {
  return async (w, c) => {
    const fake = await startFakeLlm()
    try {
      await useFake(w, fake, retries)
      await body(w, c, fake)
    } finally {
      await fake.close()
    }
  }
}

suite('fault', (backend) => {
  gauntlet(
    backend,
    'provider: a storm of 429s, then a retry that gets through',
    withFake(async (w, c, fake) => {
      const limited = () =>
        chatHttpError(429, 'Rate limit reached for requests', 'rate_limit_error', {
          'retry-after-ms': '20',
        })
      fake.enqueue(limited(), limited(), limited(), limited())
      const failed = await run(w)
      expectProviderFailure(c, failed, /429|rate/i)
      expect(fake.requests).toHaveLength(4)
      // The same session later: two more 429s are retried and the turn completes.
      fake.enqueue(
        limited(),
        limited(),
        toolCall('write_file', '{"path":"a.txt","content":"after the storm\\n"}'),
        answer('done'),
      )
      const ok = await run(w, ['--session', failed.id])
      expect(ok.result.exitCode, show(ok.result)).toBe(0)
      expect(ok.result.stderr).toMatch(/retry|retrying/i)
      await afterFault(w, c, failed.id, { commits: 1 })
    }),
  )

  gauntlet(
    backend,
    'provider: 500s until the retries run out',
    withFake(async (w, c, fake) => {
      for (let i = 0; i < 3; i++)
        fake.enqueue(chatHttpError(500, 'The server had an error while processing your request'))
      const failed = await run(w)
      expectProviderFailure(c, failed, /500|server/i)
      expect(fake.requests).toHaveLength(3)
      await afterFault(w, c, failed.id, { commits: 0 })
    }, 2),
    { timeoutMs: 240_000 },
  )

  gauntlet(
    backend,
    'provider: a stream cut mid-way (before and after text reached the user)',
    withFake(async (w, c, fake) => {
      // A tool call cut in the middle of its arguments, before any text: retried; the half call
      // never runs.
      const lines = chatCompletionEvents({
        flavour: 'openai',
        toolCalls: [
          {
            id: 'call_cut',
            name: 'write_file',
            arguments: ['{"path":"half.txt",', '"content":"x"}'],
          },
        ],
      })
      fake.enqueue(
        chatStream(lines.slice(0, 3), { end: 'destroy' }),
        toolCall('write_file', '{"path":"whole.txt","content":"whole\\n"}'),
        answer('done'),
      )
      const ok = await run(w)
      expect(ok.result.exitCode, show(ok.result)).toBe(0)
      expect(ok.summary?.toolCalls).toBe(1)
      // Text streamed, then the cut: the turn fails rather than repeat the text; it is kept.
      const text = chatCompletionEvents({
        flavour: 'openai',
        text: ['I will now ', 'explain everything '],
      })
      fake.enqueue(chatStream(text.slice(0, 3), { end: 'destroy' }))
      const cut = await run(w, ['--session', ok.id])
      expectProviderFailure(c, cut, /stream|connection|terminated|socket|closed/i)
      await afterFault(w, c, ok.id, { commits: 1 })
      const files = (await w.log(ok.id)).flatMap((e) => e.files.map((f) => f.path))
      expect(files).toContain('whole.txt')
      expect(files).not.toContain('half.txt')
    }),
  )

  gauntlet(
    backend,
    'provider: a stalled stream (idle timeout)',
    withFake(async (w, c, fake) => {
      const stalled = (): ScriptedResponse =>
        chatStream(chatCompletionEvents({ flavour: 'openai', text: ['thinking'] }).slice(0, 1), {
          end: 'stall',
        })
      fake.enqueue(stalled(), stalled())
      const started = Date.now()
      const failed = await run(w)
      expectProviderFailure(c, failed, /idle|no data|nothing|stalled|timed out/i)
      c.note(
        `gave up after ${((Date.now() - started) / 1000).toFixed(1)} s with idle_timeout_s = 2`,
      )
      await afterFault(w, c, failed.id, { commits: 0 })
    }, 1),
  )

  gauntlet(
    backend,
    'provider: malformed tool-call JSON, an unknown tool, invalid arguments',
    withFake(async (w, c, fake) => {
      fake.enqueue(
        toolCall('write_file', '{"path": "a.txt", "content": '),
        toolCall('rm_rf_host', '{"path":"/"}'),
        toolCall('write_file', '{"path": 42}'),
        toolCall('read_file', '{"path":"hello.txt","offset":-3}'),
        toolCall('write_file', '{"path":"ok.txt","content":"recovered\\n"}'),
        answer('done'),
      )
      const r = await run(w)
      expect(r.result.exitCode, show(r.result)).toBe(0)
      expect(r.result.stderr).not.toMatch(STACK_FRAME)
      const results = await toolResults(w, r.id)
      expect(results.map((x) => x.isError === true)).toEqual([true, true, true, true, false])
      expect(outputText(results[1] ?? { toolCallId: '', toolName: '', output: '' })).toMatch(
        /rm_rf_host/,
      )
      c.note(
        results
          .slice(0, 4)
          .map((x) => `${x.toolName}: ${outputText(x).split('\n')[0]?.slice(0, 60) ?? ''}`)
          .join(' / '),
      )
      // Calls that never ran leave no commit; the valid one does.
      await afterFault(w, c, r.id)
      const files = (await w.log(r.id)).flatMap((e) => e.files.map((f) => f.path))
      expect(files).toContain('ok.txt')
      expect(files).not.toContain('a.txt')
    }),
  )

  gauntlet(
    backend,
    'provider: a model that loops forever on the same call (STEP_LIMIT)',
    withFake(async (w, c, fake) => {
      for (let i = 0; i < 20; i++) fake.enqueue(toolCall('read_file', '{"path":"hello.txt"}'))
      const r = await run(w)
      expect(r.result.exitCode, show(r.result)).toBe(79)
      expect(r.result.stderr).not.toMatch(STACK_FRAME)
      expect(r.summary?.error?.code).toBe('STEP_LIMIT')
      c.note(
        `exit 79 after ${fake.requests.length} model requests: ${(r.summary?.error?.message ?? '').slice(0, 100)}`,
      )
      expect(fake.requests.length).toBeLessThanOrEqual(6)
      await afterFault(w, c, r.id)
    }),
  )

  gauntlet(
    backend,
    'provider: a model that never stops calling tools ([agent] max_steps)',
    withFake(async (w, c, fake) => {
      for (let i = 0; i < 30; i++)
        fake.enqueue(toolCall('bash', `{"command":"echo ${i} >> steps.txt"}`))
      const r = await run(w)
      expect(r.result.exitCode, show(r.result)).toBe(79)
      expect(r.summary?.error?.code).toBe('STEP_LIMIT')
      expect(fake.requests).toHaveLength(12)
      c.note(`exit 79 after 12 steps: ${(r.summary?.error?.message ?? '').slice(0, 90)}`)
      await afterFault(w, c, r.id, { commits: 12 })
    }),
  )
})
