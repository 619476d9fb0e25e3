import type { Envelope } from '../../../../src/bus/bus.js'
import type { EventMap } from '../../../../src/bus/events.js'

export type Event = Envelope<EventMap>

export function ev<K extends keyof EventMap>(name: K, payload: EventMap[K]): Event {
  return { name, payload } as Event
}

const T0 = 1_764_291_430_000
const usage = (input: number, output: number) => ({
  inputTokens: input,
  outputTokens: output,
  totalTokens: input + output,
})

/** A session being created, its sandbox starting: what precedes the first turn. */
export function sessionStart(sessionId: string, projectPath = '/tmp/demo-proj'): Event[] {
  return [
    ev('copy.finished', { sessionId, files: 2, bytes: 812, skipped: [], durationMs: 12 }),
    ev('session.created', {
      sessionId,
      projectPath,
      backend: 'docker',
      baseCommit: 'abb4152475c6',
      files: 2,
    }),
    ev('session.status', { sessionId, status: 'starting', detail: 'creating a docker sandbox' }),
    ev('sandbox.state', { sessionId, sandboxId: 'sb-1', backend: 'docker', state: 'creating' }),
    ev('sandbox.state', { sessionId, sandboxId: 'sb-1', backend: 'docker', state: 'running' }),
    ev('session.status', { sessionId, status: 'idle' }),
  ]
}

/**
 * The demo model's first turn, in the exact order the agent emits it (docs/agent.md, Events):
 * turn.started, per step agent.text… agent.step, per call tool.started,
 * exec.started/exec.output…/exec.finished (bash), git.committed, tool.finished; turn.finished.
 */
export function demoTurn(sessionId: string, turnId = 'turn-1'): Event[] {
  const s = { sessionId, turnId }
  const step = (n: number, input: number, output: number): Event =>
    ev('agent.step', { ...s, step: n, finishReason: 'tool-calls', usage: usage(input, output) })
  const call = (
    callId: string,
    tool: string,
    args: string,
    summary: string,
    commit: string,
    changed: { path: string; status: string }[],
    middle: Event[] = [],
  ): Event[] => [
    ev('tool.started', { ...s, callId, tool, args, at: T0 + 100 }),
    ...middle,
    ev('git.committed', { sessionId, commit, callId, message: `${tool}: ${args}`, changed }),
    ev('tool.finished', {
      ...s,
      callId,
      tool,
      isError: false,
      summary,
      durationMs: 68,
      commit,
    }),
  ]
  const execId = 'exec-1'
  return [
    ev('session.status', { sessionId, status: 'busy' }),
    ev('turn.started', { ...s, prompt: 'show me around', at: T0 }),
    ev('agent.text', { ...s, text: 'I will look ' }),
    ev('agent.text', { ...s, text: 'around the project first.' }),
    step(1, 400, 20),
    ...call('call-1', 'list_dir', '.', 'listed . (2 entries)', '1b14f959a3d6', []),
    ev('agent.text', { ...s, text: '`README.md` looks like the place to start; reading it.' }),
    step(2, 500, 25),
    ...call('call-2', 'read_file', 'README.md', 'read README.md (3 lines)', 'b2c0d9f8714f', []),
    ev('agent.text', { ...s, text: 'I will add a short note at the end of `README.md`.' }),
    step(3, 600, 40),
    ...call('call-3', 'edit_file', 'README.md', 'edited README.md', 'b01e55b38252', [
      { path: 'README.md', status: 'modified' },
    ]),
    ev('agent.text', { ...s, text: 'Now a command in the sandbox, to measure the project.' }),
    step(4, 700, 30),
    ...call(
      'call-4',
      'bash',
      'uname -sr; wc -l *',
      'exit 0 in 67 ms',
      '599f7cfeaf2f',
      [],
      [
        ev('exec.started', {
          sessionId,
          execId,
          command: 'uname -sr; wc -l *',
          cwd: '/workspace',
          at: T0 + 200,
        }),
        ev('exec.output', { sessionId, execId, stream: 'stdout', text: 'Linux 6.8.0\n  3 REA' }),
        ev('exec.output', { sessionId, execId, stream: 'stdout', text: 'DME.md\n  3 total' }),
        ev('exec.output', { sessionId, execId, stream: 'stderr', text: 'wc: warn\n' }),
        ev('exec.finished', {
          sessionId,
          execId,
          exitCode: 0,
          durationMs: 1234,
          timedOut: false,
          aborted: false,
          truncatedBytes: 0,
        }),
      ],
    ),
    ev('agent.text', { ...s, text: 'Writing what I found to `SAFE_CODER_DEMO.md`.' }),
    step(5, 800, 60),
    ...call(
      'call-5',
      'write_file',
      'SAFE_CODER_DEMO.md',
      'wrote SAFE_CODER_DEMO.md',
      'a29489057bc0',
      [{ path: 'SAFE_CODER_DEMO.md', status: 'added' }],
    ),
    ev('agent.text', { ...s, text: 'Done. In the sandbox I:\n- listed\n- read' }),
    ev('agent.step', { ...s, step: 6, finishReason: 'stop', usage: usage(900, 100) }),
    ev('turn.finished', {
      ...s,
      outcome: 'done',
      steps: 6,
      durationMs: 2500,
      usage: usage(3900, 275),
      sessionUsage: usage(3900, 275),
    }),
    ev('session.status', { sessionId, status: 'idle' }),
  ]
}
