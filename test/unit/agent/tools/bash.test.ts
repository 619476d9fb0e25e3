import { describe, expect, it } from 'vitest'
import { bashTool } from '../../../../src/agent/tools/bash.js'
import type { ExecIO, ExecRequest, ExecResult } from '../../../../src/sandbox/types.js'
import { FakeSandbox, toolContext } from '../../../helpers/fake-sandbox.js'

const MERGE = ['/bin/sh', '-c', 'exec 2>&1; exec "$@"', 'safe-coder-bash']

/** Scripts the fake: a probe answer, then `run` for the command itself. */
function script(
  sandbox: FakeSandbox,
  run: (argv: string[], req: ExecRequest, io: ExecIO) => Partial<ExecResult>,
  programs = '',
): void {
  sandbox.onExec = (argv, req, io) =>
    argv[2]?.includes('command -v') === true ? { stdout: programs } : run(argv, req, io)
}

const say = (io: ExecIO, out: string, err = ''): void => {
  io.onStdout?.(Buffer.from(out))
  if (err !== '') io.onStderr?.(Buffer.from(err))
}

describe('bash', () => {
  it('runs the command with sh, interleaves output and reports the exit code as data', async () => {
    const sandbox = new FakeSandbox()
    const calls: { argv: string[]; req: ExecRequest }[] = []
    script(sandbox, (argv, req, io) => {
      calls.push({ argv, req })
      say(io, 'out 1\n', 'err 1\n')
      say(io, 'out 2')
      return { exitCode: 3, durationMs: 1234, stdout: 'out 1\nout 2', stderr: 'err 1\n' }
    })
    const ctx = toolContext(sandbox, { bashTimeoutMs: 90_000 })
    const out = await bashTool.run({ command: 'make test' }, ctx)
    expect(out).toEqual({
      output: 'out 1\nerr 1\nout 2\nexit code 3',
      isError: false,
      changes: { kind: 'scan' },
      summary: 'exit 3 in 1.2 s',
      exitCode: 3,
    })
    expect(calls[0]?.argv).toEqual([...MERGE, '/bin/sh', '-c', 'make test'])
    expect(calls[0]?.req.timeoutMs).toBe(90_000)
    expect(calls[0]?.req.cwd).toBeUndefined()
  })

  it('uses bash when the sandbox has it, and caps the timeout at the limit', async () => {
    const sandbox = new FakeSandbox()
    const reqs: ExecRequest[] = []
    script(
      sandbox,
      (_argv, req) => {
        reqs.push(req)
        return {}
      },
      'rg\nbash\n',
    )
    const ctx = toolContext(sandbox, { bashTimeoutMs: 10_000 })
    const out = await bashTool.run({ command: 'true', timeout_s: 2.5 }, ctx)
    expect(out.output).toBe('(no output)\nexit code 0')
    await bashTool.run({ command: 'true', timeout_s: 600 }, ctx)
    expect(reqs.map((r) => [r.command, r.timeoutMs])).toEqual([
      [[...MERGE, 'bash', '-c', 'true'], 2500],
      [[...MERGE, 'bash', '-c', 'true'], 10_000],
    ])
  })

  it('reports a timeout and a cancellation as errors, with what was printed', async () => {
    const sandbox = new FakeSandbox()
    let answer: Partial<ExecResult> = { timedOut: true, exitCode: 137 }
    script(sandbox, (_argv, _req, io) => {
      say(io, 'starting\n')
      return answer
    })
    const ctx = toolContext(sandbox, { bashTimeoutMs: 5000 })
    const slow = await bashTool.run({ command: 'sleep 100' }, ctx)
    expect(slow).toMatchObject({
      output: 'starting\nexit code 137\ntimed out after 5 s; the command was killed',
      isError: true,
      changes: { kind: 'scan' },
      summary: 'timed out after 5 s',
    })
    answer = { aborted: true, exitCode: null, durationMs: 300 }
    const cancelled = await bashTool.run({ command: 'sleep 100' }, ctx)
    expect(cancelled).toMatchObject({
      output: 'starting\nexit code none (killed)\ncancelled; the command was killed',
      isError: true,
      summary: 'cancelled after 300 ms',
      exitCode: null,
    })
  })

  it('keeps the beginning and the end of a flood, within maxOutputChars', async () => {
    const sandbox = new FakeSandbox()
    script(sandbox, (_argv, _req, io) => {
      say(io, 'FIRST LINE\n')
      for (let i = 0; i < 2000; i++) say(io, `noise ${i}\n`)
      say(io, 'LAST LINE\n')
      return { exitCode: 1 }
    })
    const out = await bashTool.run(
      { command: 'build' },
      toolContext(sandbox, { maxOutputChars: 2000 }),
    )
    expect(out.output.length).toBeLessThanOrEqual(2000)
    expect(out.output.startsWith('FIRST LINE\n')).toBe(true)
    expect(out.output).toMatch(/LAST LINE\nexit code 1$/)
    expect(out.output).toMatch(/… \[cut [\d,]+ bytes; filter the output with grep, head or tail\]/)
  })

  it('falls back to the result when the backend does not stream', async () => {
    const sandbox = new FakeSandbox()
    script(sandbox, () => ({ stdout: 'plain\n', stderr: 'warn\n' }))
    expect((await bashTool.run({ command: 'x' }, toolContext(sandbox))).output).toBe(
      'plain\nwarn\nexit code 0',
    )
  })

  it('describes a call by its first line', () => {
    expect(bashTool.describe({ command: 'npm test' })).toBe('npm test')
    expect(bashTool.describe({ command: 'cd a\nmake' })).toBe('cd a…')
    expect(bashTool.describe({ command: 'x'.repeat(100) })).toBe(`${'x'.repeat(80)}…`)
  })
})
