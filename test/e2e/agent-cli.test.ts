import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { lstat, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { describe, expect, it, onTestFinished } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { binPath, isolatedEnv, runBuilt } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'
import { tempDir } from '../helpers/sandbox.js'

/**
 * The agent commands (`run`, `chat --no-tui`) end to end: the built CLI, the offline demo
 * model (built-in scenario and scripts), a real Docker sandbox, and the host project, which
 * changes only through sync.
 */

const README = '# Demo project\n\nA tiny project for the agent.\n'
/** What the built-in demo scenario's edit_file makes of README (a note after the last line). */
const EDITED_README = `${README}\n<!-- Reviewed in a Safe Coder sandbox: this line was added by the demo agent. -->\n`
const DEMO_TOOLS = ['list_dir', 'read_file', 'edit_file', 'bash', 'write_file']
const SESSION_ID = /s-[a-z0-9]+-[0-9a-f]+/
/** A Node stack frame ("    at fn (file:1:2)") that a user-facing error must never show. */
const STACK_FRAME = /^\s+at .+[:(]/m

interface RunSummary {
  ok: boolean
  sessionId: string
  projectPath: string
  backend: string
  provider: string
  model: string
  answer: string
  steps: number
  toolCalls: number
  commits: string[]
  changedFiles: { path: string; status: string; added: number; removed: number }[]
  usage: { inputTokens: number; outputTokens: number; totalTokens: number }
  sync?: { journal: string; applied: number; conflicts: string[] }
  error?: { code: string; message: string; hint?: string }
}

interface LogEntry {
  oid: string
  subject: string
  trailers: Record<string, string>
  files: { path: string; status: string }[]
}

interface SessionRow {
  id: string
  status: string
  commits: number
  changedFiles?: number
  unsynced: boolean
  projectPath: string
}

/** Every path of a tree with its kind, mode and content hash: "exactly as it was" means equal. */
async function treeHash(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of (await readdir(path.join(root, rel))).sort()) {
    const p = path.join(rel, name)
    const info = await lstat(path.join(root, p))
    if (info.isDirectory())
      Object.assign(out, { [p]: `dir ${info.mode & 0o7777}` }, await treeHash(root, p))
    else if (info.isSymbolicLink()) out[p] = `link ${await readlink(path.join(root, p))}`
    else out[p] = `file ${info.mode & 0o7777} ${sha256(await readFile(path.join(root, p)))}`
  }
  return out
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** A git-less project with a README (the demo's edit target) and a JS file. */
async function agentProject(): Promise<string> {
  const dir = await tempDir('safe-coder-agent-project-')
  await writeFile(path.join(dir, 'README.md'), README)
  await mkdir(path.join(dir, 'src'))
  await writeFile(path.join(dir, 'src/index.js'), 'export const answer = 42\n')
  return dir
}

/** An isolated HOME/XDG tree and the small busybox sandbox image, as the other e2e tests use. */
function agentEnv(): Promise<Record<string, string>> {
  return isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
}

/** A file outside every project (scripts, --config files), so it is never copied in. */
async function outsideFile(name: string, text: string): Promise<string> {
  const file = path.join(await tempDir('safe-coder-agent-files-'), name)
  await writeFile(file, text)
  return file
}

async function listSessions(env: Record<string, string>): Promise<SessionRow[]> {
  const result = await runBuilt(['sessions', '--json'], { env })
  expect(result.exitCode, String(result.stderr)).toBe(0)
  return (JSON.parse(String(result.stdout)) as { sessions: SessionRow[] }).sessions
}

async function readLogJson(env: Record<string, string>, id: string): Promise<LogEntry[]> {
  const result = await runBuilt(['log', id, '--json'], { env })
  expect(result.exitCode, String(result.stderr)).toBe(0)
  return JSON.parse(String(result.stdout)) as LogEntry[]
}

function parseSummary(stdout: unknown): RunSummary {
  return JSON.parse(String(stdout)) as RunSummary
}

/** The session's mirror: what the agent left, which a sync copies to the project. */
function workDir(env: Record<string, string>, id: string): string {
  return path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions', id, 'work')
}

/** The host tree after the demo scenario was synced: README edited, the report added. */
async function expectDemoSynced(
  project: string,
  original: Record<string, string>,
  env: Record<string, string>,
  id: string,
): Promise<void> {
  const report = await readFile(path.join(workDir(env, id), 'SAFE_CODER_DEMO.md'), 'utf8')
  expect(report).toMatch(/^# Safe Coder demo\n/)
  expect(report).toContain('- Edited: `README.md` (one line added at the end)')
  const readmeMode = /^file (\d+) /.exec(original['README.md'] ?? '')?.[1]
  expect(await treeHash(project)).toEqual({
    ...original,
    'README.md': `file ${readmeMode} ${sha256(EDITED_README)}`,
    'SAFE_CODER_DEMO.md': `file 420 ${sha256(report)}`, // 0o644
  })
}

/** The built CLI's `chat --no-tui`, driven line by line through a pipe. */
function startChat(args: string[], options: { cwd: string; env: Record<string, string> }) {
  const child = execa(process.execPath, [binPath, 'chat', '--no-tui', ...args], {
    ...options,
    extendEnv: false,
    reject: false,
    stdin: 'pipe',
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })
  let exited = false
  void child.finally(() => {
    exited = true
  })
  return {
    child,
    output: () => output,
    send(line: string): void {
      child.stdin.write(`${line}\n`)
    },
    /** Resolves once stdout (so far) matches; fails with the transcript on timeout or exit. */
    async waitFor(pattern: RegExp, ms = 30_000): Promise<void> {
      const deadline = Date.now() + ms
      while (!pattern.test(output)) {
        if (exited || Date.now() > deadline) {
          throw new Error(
            `chat ${exited ? 'exited' : 'timed out'} before printing ${String(pattern)}; stdout so far:\n${output}`,
          )
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
  }
}

describe('safe-coder run (headless agent) against the real daemon', () => {
  it('runs the demo on a copy, one commit per tool call, and syncs exactly that (and undoes it)', async () => {
    await requireDocker()
    const project = await agentProject()
    const env = await agentEnv()
    const original = await treeHash(project)

    const run = await runBuilt(['run', '--demo', '--json', 'look around and leave a note'], {
      cwd: project,
      env,
    })
    expect(run.exitCode, String(run.stderr)).toBe(0)
    const summary = parseSummary(run.stdout)
    expect(summary).toMatchObject({
      ok: true,
      projectPath: project,
      backend: 'docker',
      provider: 'demo',
      model: 'demo',
      toolCalls: 5,
      steps: 6,
    })
    expect(summary.sessionId).toMatch(SESSION_ID)
    expect(summary.commits).toHaveLength(5)
    expect(summary.changedFiles).toEqual([
      { path: 'README.md', status: 'modified', added: 2, removed: 0 },
      expect.objectContaining({ path: 'SAFE_CODER_DEMO.md', status: 'added', removed: 0 }),
    ])
    expect(summary.usage.totalTokens).toBeGreaterThan(0)
    expect(summary.usage.totalTokens).toBe(summary.usage.inputTokens + summary.usage.outputTokens)
    expect(summary.answer).toMatch(/^Done\. In the sandbox I:/)
    expect(summary.error).toBeUndefined()
    // Progress on stderr: one line per tool call, each followed by its outcome.
    const stderr = String(run.stderr)
    for (const tool of DEMO_TOOLS) expect(stderr).toMatch(new RegExp(`^ {2}> ${tool}\\b`, 'm'))
    expect(stderr).toMatch(/^ {4}edited README\.md \(/m)
    expect(stderr).toMatch(/^ {4}wrote SAFE_CODER_DEMO\.md \(14 lines\)/m)
    expect(stderr).not.toMatch(STACK_FRAME)
    // Nothing reached the project.
    expect(await treeHash(project)).toEqual(original)

    const id = summary.sessionId
    const log = await runBuilt(['log', id], { env })
    expect(log.exitCode, String(log.stderr)).toBe(0)
    const subjects = String(log.stdout)
      .split('\n')
      .map((line) => /^[0-9a-f]{12} {2}\S+ \S+ {2}(.*)$/.exec(line)?.[1])
      .filter((subject): subject is string => subject !== undefined)
    expect(subjects).toHaveLength(6)
    expect(subjects.slice(0, 5).map((s) => s.split(':')[0])).toEqual([...DEMO_TOOLS].reverse())
    expect(subjects[0]).toBe('write_file: SAFE_CODER_DEMO.md')
    expect(subjects[2]).toBe('edit_file: README.md')
    expect(subjects[5]).toBe(`snapshot: ${project}`)
    const entries = await readLogJson(env, id)
    expect(entries.slice(0, 5).map((e) => e.oid)).toEqual([...summary.commits].reverse())
    expect(entries.slice(0, 5).map((e) => e.trailers.Tool)).toEqual([...DEMO_TOOLS].reverse())
    for (const entry of entries.slice(0, 5)) expect(entry.trailers.Session).toBe(id)

    const sync = await runBuilt(['sync', id], { env })
    expect(sync.exitCode, String(sync.stderr)).toBe(0)
    expect(sync.stdout).toMatch(/applied 2 changes/)
    await expectDemoSynced(project, original, env, id)

    const undo = await runBuilt(['sync', '--undo', id], { env })
    expect(undo.exitCode, String(undo.stderr)).toBe(0)
    expect(await treeHash(project)).toEqual(original)
  })

  it('run --sync --yes applies the work when the task succeeds and says so', async () => {
    await requireDocker()
    const project = await agentProject()
    const env = await agentEnv()
    const original = await treeHash(project)
    const run = await runBuilt(['run', '--demo', '--sync', '--yes', 'leave a note'], {
      cwd: project,
      env,
    })
    expect(run.exitCode, String(run.stderr)).toBe(0)
    const stdout = String(run.stdout)
    const id = new RegExp(`^session (${SESSION_ID.source}) \\(docker, demo/demo\\)`, 'm').exec(
      stdout,
    )?.[1]
    expect(id, stdout).toBeDefined()
    expect(stdout).toMatch(/: 5 tool calls, 5 commits, \d+ tokens$/m)
    expect(stdout).toContain(`applied 2 changes to ${project}`)
    expect(stdout).toContain(`safe-coder sync --undo ${id ?? ''}`)
    expect(stdout).not.toMatch(/the project is unchanged until then/)
    expect(String(run.stderr)).toMatch(/Sync plan for .*: 2 change\(s\), 0 conflict\(s\)/)
    await expectDemoSynced(project, original, env, id ?? '')
    const [row] = await listSessions(env)
    expect(row).toMatchObject({ id, commits: 5, unsynced: false })
  })

  it('runs a demo script: a failing command is data for the model, and its exit code is recorded', async () => {
    await requireDocker()
    const project = await agentProject()
    const env = await agentEnv()
    const original = await treeHash(project)
    const script = await outsideFile(
      'script.json',
      JSON.stringify({
        turns: [
          {
            steps: [
              {
                text: 'Writing a file.',
                tool_calls: [
                  { tool: 'write_file', input: { path: 'notes.txt', content: 'scripted\n' } },
                ],
              },
              { tool_calls: [{ tool: 'bash', input: { command: 'echo hi > out.txt; exit 3' } }] },
              { text: 'All done.' },
            ],
          },
        ],
      }),
    )
    const run = await runBuilt(['run', '--demo-script', script, '--json', 'go'], {
      cwd: project,
      env,
    })
    expect(run.exitCode, String(run.stderr)).toBe(0)
    const summary = parseSummary(run.stdout)
    expect(summary).toMatchObject({ ok: true, provider: 'demo', answer: 'All done.', toolCalls: 2 })
    expect(summary.commits).toHaveLength(2)
    expect(summary.changedFiles.map((f) => [f.path, f.status])).toEqual([
      ['notes.txt', 'added'],
      ['out.txt', 'added'],
    ])
    expect(String(run.stderr)).toMatch(/^ {2}> bash echo hi > out\.txt; exit 3\n {4}exit 3 in /m)

    const [bash, write] = await readLogJson(env, summary.sessionId)
    expect(bash?.oid).toBe(summary.commits[1])
    expect(bash?.subject).toBe('bash: echo hi > out.txt; exit 3')
    expect(bash?.trailers).toMatchObject({ Tool: 'bash', Exit: '3', Session: summary.sessionId })
    expect(bash?.files).toEqual([expect.objectContaining({ path: 'out.txt', status: 'added' })])
    expect(write?.trailers).toMatchObject({ Tool: 'write_file', Status: 'ok' })
    expect(write?.trailers.Exit).toBeUndefined()
    expect(await readFile(path.join(workDir(env, summary.sessionId), 'out.txt'), 'utf8')).toBe(
      'hi\n',
    )
    expect(await treeHash(project)).toEqual(original)
  })

  it('stops a looping model at [agent] max_steps from a --config file with status 79', async () => {
    await requireDocker()
    const project = await agentProject()
    const env = await agentEnv()
    const step = { tool_calls: [{ tool: 'bash', input: { command: 'echo again' } }] }
    const script = await outsideFile(
      'loop.json',
      JSON.stringify({ turns: [{ steps: Array.from({ length: 10 }, () => step) }] }),
    )
    const config = await outsideFile('steps.toml', '[agent]\nmax_steps = 3\n')
    const run = await runBuilt(
      ['run', '--demo-script', script, '--config', config, '--json', 'loop'],
      { cwd: project, env },
    )
    expect(run.exitCode, String(run.stderr)).toBe(79)
    const stderr = String(run.stderr)
    expect(stderr).toMatch(/safe-coder: The turn reached the step limit \(3 model steps\)/)
    expect(stderr).toMatch(/hint: Raise \[agent\] max_steps/)
    expect(stderr.match(/^ {2}> bash echo again$/gm)).toHaveLength(3)
    expect(stderr).not.toMatch(STACK_FRAME)
    const summary = parseSummary(run.stdout)
    expect(summary.ok).toBe(false)
    expect(summary.error?.code).toBe('STEP_LIMIT')
    // The three calls that ran are recorded, one commit each.
    const row = (await listSessions(env)).find((s) => s.id === summary.sessionId)
    expect(row).toMatchObject({ commits: 3, status: 'stopped' })
    const entries = await readLogJson(env, summary.sessionId)
    expect(entries.map((e) => e.subject)).toEqual([
      'bash: echo again',
      'bash: echo again',
      'bash: echo again',
      `snapshot: ${project}`,
    ])
    // The summary of the failed turn still counts the work it recorded.
    expect(summary.toolCalls).toBe(3)
    expect(summary.commits).toHaveLength(row?.commits ?? -1)
  })

  it('refuses a malformed demo script with status 78, naming the file and the key', async () => {
    const project = await agentProject()
    const env = await agentEnv()
    const script = await outsideFile(
      'bad.json',
      JSON.stringify({ turns: [{ steps: [{ tool_calls: [{ tool: 'bash', args: {} }] }] }] }),
    )
    const run = await runBuilt(['run', '--demo-script', script, 'go'], { cwd: project, env })
    expect(run.exitCode).toBe(78)
    expect(run.stderr).toContain(`safe-coder: ${script}: turns.0.steps.0.tool_calls.0:`)
    expect(run.stderr).toMatch(/Unrecognized key: "args"/)
    expect(run.stderr).toMatch(/hint: A demo script is/)
    expect(run.stderr).not.toMatch(STACK_FRAME)
    const notJson = await outsideFile('broken.json', '{"turns": [')
    const broken = await runBuilt(['run', '--demo-script', notJson, 'go'], { cwd: project, env })
    expect(broken.exitCode).toBe(78)
    expect(broken.stderr).toContain(`${notJson} is not valid JSON`)
    // Refused before any session was made.
    expect(await listSessions(env)).toEqual([])
  })

  it('fails with status 75 when the provider answers 500, without a stack trace, keeping the session', async () => {
    await requireDocker()
    const project = await agentProject()
    const env = await agentEnv()
    const requests: string[] = []
    const server = http.createServer((request, response) => {
      requests.push(`${request.method ?? ''} ${request.url ?? ''}`)
      request.resume()
      response.writeHead(500, { 'content-type': 'application/json' })
      response.end(
        JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error' } }),
      )
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    onTestFinished(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve()
          })
        }),
    )
    const { port } = server.address() as AddressInfo
    // base_url may not come from a project file: pass the file explicitly with --config.
    const config = await outsideFile(
      'llm.toml',
      `[llm]\nbase_url = "http://127.0.0.1:${port}/v1"\nmax_retries = 1\n`,
    )
    const run = await runBuilt(
      [
        'run',
        '--provider',
        'openai-compatible',
        '--model',
        'm',
        '--config',
        config,
        '--json',
        'hello',
      ],
      { cwd: project, env },
    )
    expect(run.exitCode, String(run.stderr)).toBe(75)
    const stderr = String(run.stderr)
    expect(stderr).toMatch(
      /safe-coder: openai-compatible model m failed with HTTP 500 after 2 attempts: upstream exploded/,
    )
    expect(stderr).toMatch(/HTTP 500: upstream exploded; retrying in/)
    expect(stderr).not.toMatch(STACK_FRAME)
    // max_retries = 1: the first attempt and one retry.
    expect(requests).toEqual(['POST /v1/chat/completions', 'POST /v1/chat/completions'])
    const summary = parseSummary(run.stdout)
    expect(summary).toMatchObject({
      ok: false,
      provider: 'openai-compatible',
      model: 'm',
      error: { code: 'PROVIDER_FAILED' },
    })
    const sessions = await listSessions(env)
    expect(sessions).toEqual([
      expect.objectContaining({ id: summary.sessionId, projectPath: project, status: 'stopped' }),
    ])
    const listed = await runBuilt(['sessions'], { env })
    expect(listed.stdout).toContain(summary.sessionId)
  })

  it('refuses an empty prompt (64) and a missing project (66) with clear messages', async () => {
    const project = await agentProject()
    const env = await agentEnv()
    const empty = await runBuilt(['run', '--demo', '  '], { cwd: project, env })
    expect(empty.exitCode).toBe(64)
    expect(empty.stderr).toMatch(/safe-coder: The prompt is empty\./)
    expect(empty.stderr).toMatch(/hint: Say what the agent should do: safe-coder run "/)
    const missing = await runBuilt(['run', '--demo', '--path', '/nonexistent', 'hi'], {
      cwd: project,
      env,
    })
    expect(missing.exitCode).toBe(66)
    expect(missing.stderr).toMatch(/project \/nonexistent does not exist/)
    expect(missing.stderr).toMatch(/hint: Check the project path/)
    expect(missing.stderr).not.toMatch(STACK_FRAME)
    // Before its first commit a session holds no work: a failed copy-in leaves none behind.
    expect(await listSessions(env)).toEqual([])
  })
})

describe('safe-coder chat --no-tui against the real daemon', () => {
  it('chats through a pipe: a demo turn, /log, /diff, /exit, then sync on the way out', async () => {
    await requireDocker()
    const project = await agentProject()
    const env = await agentEnv()
    const original = await treeHash(project)
    const chat = startChat(['--demo'], { cwd: project, env })
    await chat.waitFor(/you> $/)
    const id = new RegExp(`^session (${SESSION_ID.source}): a copy of `, 'm').exec(
      chat.output(),
    )?.[1]
    expect(id, chat.output()).toBeDefined()
    chat.send('hello')
    await chat.waitFor(/Done\. In the sandbox I:[\s\S]*you> $/)
    expect(await treeHash(project)).toEqual(original)
    chat.send('/log')
    await chat.waitFor(/snapshot: .*\n[\s\S]*you> $/)
    chat.send('/diff')
    await chat.waitFor(/\+\+\+ b\/SAFE_CODER_DEMO\.md[\s\S]*you> $/)
    chat.send('/exit')
    await chat.waitFor(/\[s\]ync to the project, \[k\]eep for later, or \[d\]iscard\? \[k\] $/)
    chat.send('s')
    await chat.waitFor(/apply these changes to .*\? \[y\/N\] $/)
    chat.send('y')
    chat.child.stdin.end()
    const result = await chat.child
    const output = chat.output()
    expect(result.exitCode, `${output}\n${result.stderr}`).toBe(0)
    // One line per tool call while the turn runs.
    for (const tool of DEMO_TOOLS) expect(output).toMatch(new RegExp(`^ {2}> ${tool}\\b`, 'm'))
    // /log: a commit per tool call, newest first, then the snapshot (the first line follows
    // the prompt).
    expect(output).toMatch(
      /(?:^|you> )[0-9a-f]{12} {2}write_file: SAFE_CODER_DEMO\.md {2}\(1 file\)$/m,
    )
    expect(output).toMatch(/^[0-9a-f]{12} {2}edit_file: README\.md {2}\(1 file\)$/m)
    expect(output).toMatch(/^[0-9a-f]{12} {2}list_dir: \. {2}\(0 files\)$/m)
    expect(output).toMatch(/^[0-9a-f]{12} {2}snapshot: .* {2}\(2 files\)$/m)
    // /diff: everything since the snapshot.
    expect(output).toContain(
      '+<!-- Reviewed in a Safe Coder sandbox: this line was added by the demo agent. -->',
    )
    expect(output).toMatch(
      /diff --git a\/SAFE_CODER_DEMO\.md b\/SAFE_CODER_DEMO\.md\nnew file mode/,
    )
    // The exit question and the sync.
    expect(output).toMatch(/the session changed 2 file\(s\) that are not in the project yet:/)
    expect(output).toContain(`applied 2 changes to ${project}`)
    expect(result.stderr).not.toMatch(STACK_FRAME)
    await expectDemoSynced(project, original, env, id ?? '')
    const [row] = await listSessions(env)
    expect(row).toMatchObject({ id, unsynced: false })
  })

  it('keeps the session for later when told to, or when stdin ends at the exit question', async () => {
    await requireDocker()
    const project = await agentProject()
    const env = await agentEnv()
    const original = await treeHash(project)
    const keep = await runBuilt(['chat', '--no-tui', '--demo'], {
      cwd: project,
      env,
      input: 'hello\n/exit\nk\n',
    })
    const eof = await runBuilt(['chat', '--no-tui', '--demo'], {
      cwd: project,
      env,
      input: 'hello\n/exit\n',
    })
    const ids: string[] = []
    for (const result of [keep, eof]) {
      const output = String(result.stdout)
      expect(result.exitCode, `${output}\n${String(result.stderr)}`).toBe(0)
      expect(output).toMatch(/the session changed 2 file\(s\) that are not in the project yet:/)
      const id =
        /^kept: review with `safe-coder diff (\S+)`, apply with `safe-coder sync \1`/m.exec(
          output,
        )?.[1]
      expect(id, output).toMatch(SESSION_ID)
      ids.push(id ?? '')
    }
    expect(await treeHash(project)).toEqual(original)
    const sessions = await listSessions(env)
    expect(sessions.map((s) => s.id).sort()).toEqual([...ids].sort())
    for (const row of sessions) {
      expect(row).toMatchObject({ commits: 5, changedFiles: 2, unsynced: true, status: 'stopped' })
    }
    const listed = String((await runBuilt(['sessions'], { env })).stdout)
    for (const id of ids) expect(listed).toMatch(new RegExp(`^${id} .* unsynced `, 'm'))
  })
})
