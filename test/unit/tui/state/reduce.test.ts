import { describe, expect, it } from 'vitest'
import type { SessionSummary } from '../../../../src/session/client.js'
import { initialState, reduce, type ViewAction } from '../../../../src/tui/state/reduce.js'
import type { LogRing, SessionView, ViewState } from '../../../../src/tui/state/types.js'
import { demoTurn, ev, sessionStart } from './demo-turn.js'

const NOW = 1_764_291_500_000

function run(
  actions: ViewAction[],
  state: ViewState = initialState({ logLines: 1000 }),
): ViewState {
  return actions.reduce((s, a) => reduce(s, a, NOW), state)
}

function session(state: ViewState, id: string): SessionView {
  const s = state.sessions[id]
  if (s === undefined) throw new Error(`no session ${id}`)
  return s
}

function lines(log: LogRing): string[] {
  const out: string[] = []
  for (let i = 0; i < log.length; i++) {
    const line = log.at(i)
    if (line !== undefined) out.push(`${line.stream}: ${line.text}`)
  }
  return out
}

const summary = (id: string, origin: 'local' | 'remote'): SessionSummary => ({
  id,
  projectPath: `/p/${id}`,
  backend: 'docker',
  origin,
  ownerPid: 1,
})

describe('reduce: a recorded demo turn', () => {
  const state = run([...sessionStart('s-1'), ...demoTurn('s-1')])
  const s = session(state, 's-1')

  it('creates and focuses the session', () => {
    expect(state.order).toEqual(['s-1'])
    expect(state.focused).toBe('s-1')
    expect(s).toMatchObject({ origin: 'local', backend: 'docker', projectPath: '/tmp/demo-proj' })
    expect(s.status).toBe('idle')
    expect(s.statusDetail).toBeUndefined()
    expect(s.turn).toBeUndefined()
    expect(s.stats.startedAt).toBe(NOW)
  })

  it('builds the chat: prompt, one closed assistant entry per step, tool calls', () => {
    const brief = s.chat.map((e) =>
      e.kind === 'user'
        ? `user ${e.text}`
        : e.kind === 'assistant'
          ? `assistant${e.done ? '' : ' (open)'} ${e.text}`
          : e.kind === 'tool'
            ? `tool ${e.tool} ${e.args} ${e.status}: ${e.summary ?? ''} @${e.commit ?? ''}`
            : `notice ${e.level} ${e.text}`,
    )
    expect(brief).toEqual([
      'user show me around',
      'assistant I will look around the project first.',
      'tool list_dir . ok: listed . (2 entries) @1b14f959a3d6',
      'assistant `README.md` looks like the place to start; reading it.',
      'tool read_file README.md ok: read README.md (3 lines) @b2c0d9f8714f',
      'assistant I will add a short note at the end of `README.md`.',
      'tool edit_file README.md ok: edited README.md @b01e55b38252',
      'assistant Now a command in the sandbox, to measure the project.',
      'tool bash uname -sr; wc -l * ok: exit 0 in 67 ms @599f7cfeaf2f',
      'assistant Writing what I found to `SAFE_CODER_DEMO.md`.',
      'tool write_file SAFE_CODER_DEMO.md ok: wrote SAFE_CODER_DEMO.md @a29489057bc0',
      'assistant Done. In the sandbox I:\n- listed\n- read',
    ])
    expect(s.chat[0]).toMatchObject({ kind: 'user', at: 1_764_291_430_000 })
    expect(s.chat[2]).toMatchObject({ kind: 'tool', durationMs: 68 })
  })

  it('logs the exec with header, joined chunks, both streams and footer', () => {
    expect(lines(s.log)).toEqual([
      'meta: $ uname -sr; wc -l *',
      'stdout: Linux 6.8.0',
      'stdout:   3 README.md',
      'stderr: wc: warn',
      'stdout:   3 total',
      'meta: exit 0 in 1.2 s',
    ])
    expect(s.execs['exec-1']).toEqual({
      execId: 'exec-1',
      command: 'uname -sr; wc -l *',
      startedAt: 1_764_291_430_200,
      exitCode: 0,
      durationMs: 1234,
      timedOut: false,
      aborted: false,
    })
  })

  it('keeps the timeline newest first and takes the session usage', () => {
    expect(s.timeline.map((t) => t.commit)).toEqual([
      'a29489057bc0',
      '599f7cfeaf2f',
      'b01e55b38252',
      'b2c0d9f8714f',
      '1b14f959a3d6',
    ])
    expect(s.timeline[2]).toEqual({
      commit: 'b01e55b38252',
      callId: 'call-3',
      message: 'edit_file: README.md',
      changed: [{ path: 'README.md', status: 'modified' }],
      at: NOW,
    })
    expect(s.usage).toEqual({ inputTokens: 3900, outputTokens: 275, totalTokens: 4175 })
    expect(s.unsynced).toBe(0)
  })

  it('has a running turn and an open assistant entry mid-stream, with live usage', () => {
    const events = [...sessionStart('s-1'), ...demoTurn('s-1')]
    const stepAt = events.findIndex((e) => e.name === 'agent.step')
    const mid = run(events.slice(0, stepAt))
    const m = session(mid, 's-1')
    expect(m.status).toBe('busy')
    expect(m.turn).toEqual({ id: 'turn-1', startedAt: 1_764_291_430_000 })
    expect(m.chat.at(-1)).toEqual({
      kind: 'assistant',
      text: 'I will look around the project first.',
      turnId: 'turn-1',
      done: false,
    })
    const after = session(run(events.slice(stepAt, stepAt + 1), mid), 's-1')
    expect(after.chat.at(-1)).toMatchObject({ kind: 'assistant', done: true })
    expect(after.usage.totalTokens).toBe(420)
  })
})

describe('reduce: state identity', () => {
  it('returns the same object when nothing changed, a new version when something did', () => {
    const start = run(sessionStart('s-1'))
    const same: ViewAction[] = [
      ev('turn.started', { sessionId: 'nobody', turnId: 't', prompt: 'x', at: 1 }),
      ev('exec.output', {
        sessionId: 's-1',
        execId: 'e',
        stream: 'stdout',
        text: 'no newline yet',
      }),
      ev('image.progress', { image: 'safe-coder', step: 'pull' }),
      ev('agent.text', { sessionId: 's-1', turnId: 't', text: '\x1b[0m' }),
      ev('session.status', { sessionId: 's-1', status: 'idle' }),
      ev('approval.resolved', { sessionId: 's-1', requestId: 'r', approved: true, by: 'user' }),
      ev('copy.progress', { sessionId: 's-1', files: 1, bytes: 2 }),
      { name: 'ui.focus', payload: { sessionId: 's-1' } },
      { name: 'ui.focus', payload: { sessionId: 'nobody' } },
      { name: 'client.unsynced', payload: { sessionId: 's-1', count: 0 } },
      { name: 'client.removed', payload: { sessionId: 'nobody' } },
      { name: 'client.sessions', payload: { sessions: [summary('s-1', 'remote')] } },
      { name: 'ui.notice', payload: { sessionId: 'nobody', level: 'info', text: 'x' } },
    ]
    for (const action of same) expect(reduce(start, action, NOW)).toBe(start)

    const changed = reduce(
      start,
      ev('exec.output', { sessionId: 's-1', execId: 'e', stream: 'stdout', text: 'line\n' }),
      NOW,
    )
    expect(changed).not.toBe(start)
    expect(changed.version).toBe(start.version + 1)
    expect(changed.sessions['s-1']).not.toBe(start.sessions['s-1'])
    // The ring itself is shared (mutated in place, documented in reduce.ts).
    expect(changed.sessions['s-1']?.log).toBe(start.sessions['s-1']?.log)
  })

  it('dedupes commits and approvals', () => {
    const commit = ev('git.committed', {
      sessionId: 's-1',
      commit: 'c1',
      callId: 'k',
      message: 'bash: ls',
      changed: [],
    })
    const asked = ev('approval.requested', {
      sessionId: 's-1',
      requestId: 'r1',
      callId: 'k',
      tool: 'bash',
      args: 'rm -rf build',
    })
    const once = run([...sessionStart('s-1'), commit, asked])
    expect(reduce(once, commit, NOW)).toBe(once)
    expect(reduce(once, asked, NOW)).toBe(once)
    expect(session(once, 's-1').approvals).toEqual([
      { requestId: 'r1', callId: 'k', tool: 'bash', args: 'rm -rf build' },
    ])
    const resolved = reduce(
      once,
      ev('approval.resolved', { sessionId: 's-1', requestId: 'r1', approved: true, by: 'user' }),
      NOW,
    )
    expect(session(resolved, 's-1').approvals).toEqual([])
  })
})

describe('reduce: sessions', () => {
  it('keeps two sessions separate', () => {
    const state = run([
      ...sessionStart('s-1', '/a'),
      ...sessionStart('s-2', '/b'),
      ...demoTurn('s-2'),
      ev('exec.output', { sessionId: 's-1', execId: 'x', stream: 'stdout', text: 'only one\n' }),
    ])
    expect(state.order).toEqual(['s-1', 's-2'])
    expect(state.focused).toBe('s-1')
    const [a, b] = [session(state, 's-1'), session(state, 's-2')]
    expect(a.chat).toEqual([])
    expect(a.timeline).toEqual([])
    expect(lines(a.log)).toEqual(['stdout: only one'])
    expect(b.chat).toHaveLength(12)
    expect(b.timeline).toHaveLength(5)
    expect(b.log.length).toBe(6)
  })

  it('adds remote sessions from the client without touching known ones', () => {
    const local = run(sessionStart('s-1'))
    const state = reduce(
      local,
      {
        name: 'client.sessions',
        payload: { sessions: [summary('s-1', 'local'), summary('r-1', 'remote')] },
      },
      NOW,
    )
    expect(state.order).toEqual(['s-1', 'r-1'])
    expect(state.sessions['s-1']).toBe(local.sessions['s-1'])
    expect(session(state, 'r-1')).toMatchObject({
      origin: 'remote',
      projectPath: '/p/r-1',
      status: 'unknown',
      unsynced: 0,
    })
    // A later session.created for it keeps its origin.
    const again = reduce(
      state,
      ev('session.created', {
        sessionId: 'r-1',
        projectPath: '/p/r-1',
        backend: 'docker',
        baseCommit: '',
        files: 0,
      }),
      NOW,
    )
    expect(again).toBe(state)
  })

  it('creates remote sessions from session.created with origin remote', () => {
    const state = run([
      ev('session.created', {
        sessionId: 'r-2',
        origin: 'remote',
        projectPath: '/x',
        backend: 'podman',
        baseCommit: '',
        files: 0,
      }),
    ])
    expect(session(state, 'r-2').origin).toBe('remote')
    expect(state.focused).toBe('r-2')
  })

  it('moves focus when the focused session is removed', () => {
    const sessions = ['a', 'b', 'c'].map((id) => summary(id, 'local'))
    let state = run([{ name: 'client.sessions', payload: { sessions } }])
    expect(state.focused).toBe('a')
    state = reduce(state, { name: 'ui.focus', payload: { sessionId: 'b' } }, NOW)
    expect(state.focused).toBe('b')
    state = reduce(state, { name: 'client.removed', payload: { sessionId: 'b' } }, NOW)
    expect(state.order).toEqual(['a', 'c'])
    expect(state.focused).toBe('c')
    expect(state.sessions['b']).toBeUndefined()
    state = reduce(state, { name: 'client.removed', payload: { sessionId: 'c' } }, NOW)
    expect(state.focused).toBe('a')
    state = reduce(state, { name: 'client.removed', payload: { sessionId: 'a' } }, NOW)
    expect(state.focused).toBeUndefined()
    expect(state.order).toEqual([])
    // Removing an unfocused session keeps the focus.
    let two = run([{ name: 'client.sessions', payload: { sessions } }])
    two = reduce(two, { name: 'client.removed', payload: { sessionId: 'c' } }, NOW)
    expect(two.focused).toBe('a')
  })
})

describe('reduce: other events', () => {
  it('notes failed and cancelled turns, errors, retries and compaction', () => {
    const usage = { inputTokens: 1, outputTokens: 2, totalTokens: 3 }
    const state = run([
      ...sessionStart('s-1'),
      ev('turn.started', { sessionId: 's-1', turnId: 't', prompt: 'go', at: 1 }),
      ev('agent.retry', {
        sessionId: 's-1',
        turnId: 't',
        attempt: 1,
        delayMs: 2000,
        reason: 'HTTP 529',
      }),
      ev('agent.text', { sessionId: 's-1', turnId: 't', text: 'Partial' }),
      ev('turn.finished', {
        sessionId: 's-1',
        turnId: 't',
        outcome: 'failed',
        steps: 1,
        durationMs: 10,
        usage,
        sessionUsage: usage,
        error: { code: 'PROVIDER_FAILED', message: 'The stream was cut.' },
      }),
      ev('agent.compacted', {
        sessionId: 's-1',
        stage: 'pruned',
        beforeTokens: 9000,
        afterTokens: 3000,
      }),
      ev('turn.started', { sessionId: 's-1', turnId: 't2', prompt: 'again', at: 2 }),
      ev('turn.finished', {
        sessionId: 's-1',
        turnId: 't2',
        outcome: 'aborted',
        steps: 0,
        durationMs: 10,
        usage,
        sessionUsage: usage,
      }),
      ev('error', {
        error: { code: 'SANDBOX_GONE', message: 'The sandbox is gone.', hint: 'Reopen it.' },
      }),
      { name: 'ui.notice', payload: { level: 'info', text: 'Synced 2 files.' } },
    ])
    const s = session(state, 's-1')
    expect(s.turn).toBeUndefined()
    expect(s.chat.slice(1)).toEqual([
      { kind: 'notice', level: 'warn', text: 'Retrying (attempt 1) in 2.0 s: HTTP 529' },
      { kind: 'assistant', text: 'Partial', turnId: 't', done: true },
      { kind: 'notice', level: 'error', text: 'Turn failed: The stream was cut.' },
      { kind: 'notice', level: 'info', text: 'Context pruned: 9000 to 3000 tokens' },
      { kind: 'user', text: 'again', at: 2 },
      { kind: 'notice', level: 'warn', text: 'Turn cancelled' },
      { kind: 'notice', level: 'error', text: 'The sandbox is gone. Reopen it.' },
      { kind: 'notice', level: 'info', text: 'Synced 2 files.' },
    ])
    expect(s.lastError?.code).toBe('SANDBOX_GONE')
  })

  it('keeps bounded stats histories and the latest sample', () => {
    const state = initialState({ logLines: 10, historyLength: 3 })
    const stats = (i: number) =>
      ev('sandbox.stats', {
        sessionId: 's-1',
        sandboxId: 'sb',
        at: i,
        cpuPercent: i * 10,
        memoryBytes: i * 1024,
        memoryLimitBytes: 4096,
        pids: 3,
        blockReadBytes: 0,
        blockWriteBytes: 0,
        netRxBytes: 0,
        netTxBytes: 0,
      })
    const s = session(run([...sessionStart('s-1'), ...[1, 2, 3, 4, 5].map(stats)], state), 's-1')
    expect(s.stats.cpuPercent).toEqual([30, 40, 50])
    expect(s.stats.memoryBytes).toEqual([3072, 4096, 5120])
    expect(s.stats.latest).toEqual({
      at: 5,
      cpuPercent: 50,
      memoryBytes: 5120,
      memoryLimitBytes: 4096,
      pids: 3,
      blockReadBytes: 0,
      blockWriteBytes: 0,
      netRxBytes: 0,
      netTxBytes: 0,
    })
  })

  it('bounds the chat', () => {
    const state = initialState({ logLines: 10, chatEntries: 5 })
    const notices: ViewAction[] = Array.from({ length: 20 }, (_, i) => ({
      name: 'ui.notice',
      payload: { sessionId: 's-1', level: 'info', text: `n${i}` },
    }))
    const s = session(run([...sessionStart('s-1'), ...notices], state), 's-1')
    expect(s.chat.map((e) => (e.kind === 'notice' ? e.text : ''))).toEqual([
      'n15',
      'n16',
      'n17',
      'n18',
      'n19',
    ])
  })

  it('replaces the timeline from the client, keeping call ids, and takes unsynced counts', () => {
    let state = run([
      ...sessionStart('s-1'),
      ev('git.committed', {
        sessionId: 's-1',
        commit: 'c2',
        callId: 'call-9',
        message: 'edit_file: a.ts',
        changed: [{ path: 'a.ts', status: 'modified' }],
      }),
    ])
    state = reduce(
      state,
      {
        name: 'client.timeline',
        payload: {
          sessionId: 's-1',
          commits: [
            {
              commit: 'c2',
              subject: 'edit_file: a.ts',
              tool: 'edit_file',
              status: 'ok',
              at: 20,
              files: [
                { path: 'a.ts', status: 'modified', added: 3, removed: 1 },
                { path: 'b.ts', status: 'added', added: 10, removed: 0 },
              ],
            },
            { commit: 'c0', subject: 'snapshot: /p', at: 10, files: [] },
          ],
        },
      },
      NOW,
    )
    state = reduce(state, { name: 'client.unsynced', payload: { sessionId: 's-1', count: 2 } }, NOW)
    const s = session(state, 's-1')
    expect(s.unsynced).toBe(2)
    expect(s.timeline).toEqual([
      {
        commit: 'c2',
        callId: 'call-9',
        message: 'edit_file: a.ts',
        changed: [
          { path: 'a.ts', status: 'modified' },
          { path: 'b.ts', status: 'added' },
        ],
        added: 13,
        removed: 1,
        at: 20,
      },
      {
        commit: 'c0',
        callId: '',
        message: 'snapshot: /p',
        changed: [],
        added: 0,
        removed: 0,
        at: 10,
      },
    ])
  })

  it('writes exec footers for timeouts, cancels and kills; restarts uptime with a new sandbox', () => {
    const fin = (
      execId: string,
      extra: Partial<{
        exitCode: number | null
        timedOut: boolean
        aborted: boolean
        truncatedBytes: number
      }>,
    ) =>
      ev('exec.finished', {
        sessionId: 's-1',
        execId,
        exitCode: 1,
        durationMs: 30_000,
        timedOut: false,
        aborted: false,
        truncatedBytes: 0,
        ...extra,
      })
    const state = run([
      ...sessionStart('s-1'),
      fin('a', { timedOut: true, exitCode: null }),
      fin('b', { aborted: true }),
      fin('c', { exitCode: null }),
      fin('d', { exitCode: 2, truncatedBytes: 2048 }),
      ev('exec.output', {
        sessionId: 's-1',
        execId: 'e',
        stream: 'stdout',
        text: 'tail no newline',
      }),
      fin('e', { exitCode: 0 }),
      ev('sandbox.state', {
        sessionId: 's-1',
        sandboxId: 'sb-1',
        backend: 'docker',
        state: 'gone',
      }),
    ])
    const s = session(state, 's-1')
    expect(lines(s.log)).toEqual([
      'meta: timed out after 30.0 s',
      'meta: cancelled after 30.0 s',
      'meta: killed after 30.0 s',
      'meta: exit 2 in 30.0 s (2.0 KiB of output truncated)',
      'stdout: tail no newline',
      'meta: exit 0 in 30.0 s',
    ])
    expect(s.execs['a']).toMatchObject({ command: '', timedOut: true, exitCode: null })
    expect(s.stats.startedAt).toBeUndefined()
    const restarted = reduce(
      state,
      ev('sandbox.state', {
        sessionId: 's-1',
        sandboxId: 'sb-2',
        backend: 'docker',
        state: 'running',
      }),
      NOW + 5,
    )
    expect(session(restarted, 's-1').stats.startedAt).toBe(NOW + 5)
  })

  it('keeps the warning of a sandbox weaker than its backend (a microVM under TCG)', () => {
    const state = run([
      ...sessionStart('s-1'),
      ev('sandbox.state', {
        sessionId: 's-1',
        sandboxId: 'vm-1',
        backend: 'qemu',
        state: 'running',
        warning: 'TCG: software emulation, not hardware isolation\u001b[2J',
      }),
    ])
    expect(session(state, 's-1').warning).toBe('TCG: software emulation, not hardware isolation')
  })
})

describe('reduce: floods', () => {
  it('reduces 10,000 one-line output events quickly and keeps only the ring', () => {
    let state = run(sessionStart('s-1'), initialState({ logLines: 5000 }))
    const events: ViewAction[] = Array.from({ length: 10_000 }, (_, i) =>
      ev('exec.output', { sessionId: 's-1', execId: 'e', stream: 'stdout', text: `line ${i}\n` }),
    )
    const started = performance.now()
    for (const e of events) state = reduce(state, e, NOW)
    const perEvent = performance.now() - started
    const log = session(state, 's-1').log
    expect(log.length).toBe(5000)
    expect(log.pushed).toBe(10_000)
    expect(log.at(0)?.text).toBe('line 5000')
    expect(state.version).toBeGreaterThanOrEqual(10_000)

    const chunk =
      Array.from({ length: 10_000 }, (_, i) => `\x1b[32mok\x1b[0m ${i}`).join('\n') + '\n'
    const t1 = performance.now()
    state = reduce(
      state,
      ev('exec.output', { sessionId: 's-1', execId: 'f', stream: 'stdout', text: chunk }),
      NOW,
    )
    const oneChunk = performance.now() - t1
    expect(log.pushed).toBe(20_000)
    expect(log.at(4999)?.text).toBe('ok 9999')
    console.info(
      `10,000 events: ${perEvent.toFixed(1)} ms; one 10,000-line chunk: ${oneChunk.toFixed(1)} ms`,
    )
    // Not a performance budget (bench/ holds those): a bound far above any loaded machine's time
    // that still catches per-event work growing with the ring (10,000 × 5,000 would be minutes).
    expect(perEvent).toBeLessThan(10_000)
    expect(oneChunk).toBeLessThan(10_000)
  })
})
