import { describe, expect, it } from 'vitest'
import { createTestSandbox, sandboxVariants } from '../helpers/sandbox.js'

/** Processes of the sandbox other than its init and idle loop. */
async function strayProcesses(
  sandbox: Awaited<ReturnType<typeof createTestSandbox>>['sandbox'],
): Promise<string[]> {
  const ps = await sandbox.exec({ command: 'ps -o pid,args' })
  return ps.stdout
    .split('\n')
    .slice(1)
    .filter(
      (l) =>
        l.trim() !== '' &&
        !/docker-init|sleep 86400|trap "exit 0"|ps -o pid,args|\/opt\/safe-coder\/agent/.test(l),
    )
}

describe.each(sandboxVariants)(
  'docker sandbox exec ($name)',
  ({ backend: variant, memoryFloorMb }) => {
    it('streams demultiplexed output, takes stdin, env and cwd, and reports the exit code', async () => {
      const { sandbox } = await createTestSandbox({ backend: variant })
      await sandbox.exec({ command: ['mkdir', '-p', 'sub/dir'] })
      const chunks: string[] = []
      const result = await sandbox.exec(
        {
          command: 'pwd; echo "$GREETING"; cat; echo oops >&2; exit 7',
          cwd: 'sub/dir',
          env: { GREETING: 'hello' },
          stdin: 'piped',
        },
        { onStdout: (c) => chunks.push(Buffer.from(c).toString()) },
      )
      expect(result.exitCode).toBe(7)
      expect(result.stdout).toBe('/workspace/sub/dir\nhello\npiped')
      expect(result.stderr).toBe('oops\n')
      expect(chunks.join('')).toBe(result.stdout)
      expect(result.timedOut).toBe(false)
    })

    it('runs argv without a shell', async () => {
      const { sandbox } = await createTestSandbox({ backend: variant })
      const result = await sandbox.exec({ command: ['echo', '$HOME; rm -rf /'] })
      expect(result.stdout).toBe('$HOME; rm -rf /\n')
    })

    it('kills the whole process tree of a command that never ends, including setsid daemons', async () => {
      const { sandbox } = await createTestSandbox({ backend: variant })
      const started = Date.now()
      const result = await sandbox.exec({
        command: 'setsid sh -c "sleep 1000" & (sleep 1001 &) ; sleep 1002',
        timeoutMs: 1000,
      })
      expect(result.timedOut).toBe(true)
      expect(result.exitCode).not.toBe(0)
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(await strayProcesses(sandbox)).toEqual([])
    })

    it('cancels on abort and returns what was printed so far', async () => {
      const { sandbox } = await createTestSandbox({ backend: variant })
      const controller = new AbortController()
      const result = await sandbox.exec(
        { command: 'echo before; sleep 1000' },
        {
          signal: controller.signal,
          onStdout: () => {
            controller.abort()
          },
        },
      )
      expect(result.aborted).toBe(true)
      expect(result.stdout).toBe('before\n')
      expect(await strayProcesses(sandbox)).toEqual([])
    })

    it('caps a 1 GB flood in memory and says how much was dropped', async () => {
      const { sandbox } = await createTestSandbox({ backend: variant })
      let streamed = 0
      const result = await sandbox.exec(
        { command: 'head -c 1073741824 /dev/zero', maxOutputBytes: 1024 * 1024 },
        { onStdout: (c) => (streamed += c.length) },
      )
      expect(result.exitCode).toBe(0)
      expect(result.stdout.length).toBe(1024 * 1024)
      expect(result.truncatedBytes).toBe(1073741824 - 1024 * 1024)
      expect(streamed).toBe(1073741824)
    })

    it('pauses the command while the reader is full, and loses nothing', async () => {
      const { sandbox } = await createTestSandbox({ backend: variant })
      const total = 8 * 1024 * 1024
      let received = 0
      let duringHold = -1
      let held = false
      const result = await sandbox.exec(
        { command: `head -c ${total} /dev/zero`, maxOutputBytes: 1024 },
        {
          onStdout: (chunk) => {
            received += chunk.length
          },
          waitForReader: () => {
            if (held || received < 1024 * 1024) return undefined
            held = true
            const at = received
            return new Promise((resolve) =>
              setTimeout(() => {
                duringHold = received - at
                resolve()
              }, 1500),
            )
          },
        },
      )
      expect(result.exitCode).toBe(0)
      expect(received).toBe(total)
      // Only what was already on its way arrives while the reader is full.
      expect(duringHold).toBeGreaterThanOrEqual(0)
      expect(duringHold).toBeLessThan(total / 2)
      // The command could not finish writing until the hold was over.
      expect(result.durationMs).toBeGreaterThan(1400)
    })

    it('stops a fork bomb at the pids limit and stays usable', async () => {
      const { sandbox } = await createTestSandbox({ backend: { ...variant, pidsLimit: 64 } })
      const bomb = await sandbox.exec({
        command: 'b() { b | b & }; b; sleep 1000',
        timeoutMs: 3000,
      })
      expect(bomb.timedOut).toBe(true)
      expect(bomb.stderr).toMatch(/can't fork|Cannot fork|Resource temporarily unavailable/)
      const after = await sandbox.exec({ command: 'echo alive' })
      expect(after.stdout).toBe('alive\n')
    })

    it('OOM-kills a memory bomb and stays usable', async () => {
      // The agent's own Node process counts against the limit: leave it room to stay the smaller one.
      const { sandbox } = await createTestSandbox({
        backend: { ...variant, memoryMb: 64 + memoryFloorMb },
      })
      // Grow a shell variable until the cgroup's limit is hit.
      const bomb = await sandbox.exec({
        command: 'x=aaaaaaaaaaaaaaaa; while :; do x="$x$x"; done',
        timeoutMs: 60_000,
      })
      expect(bomb.exitCode).toBe(137)
      expect(bomb.timedOut).toBe(false)
      const after = await sandbox.exec({ command: 'echo alive' })
      expect(after.stdout).toBe('alive\n')
    })

    it('reports resource samples while a CPU burner runs', async () => {
      const { sandbox } = await createTestSandbox({ backend: variant })
      const controller = new AbortController()
      const burner = sandbox.exec({ command: 'while :; do :; done' }, { signal: controller.signal })
      const samples = []
      for await (const sample of sandbox.stats(controller.signal)) {
        samples.push(sample)
        if (sample.cpuPercent > 50 || samples.length >= 10) controller.abort()
      }
      await burner
      expect(samples.length).toBeGreaterThan(0)
      const last = samples.at(-1)
      expect(last?.cpuPercent).toBeGreaterThan(50)
      expect(last?.memoryLimitBytes).toBe((variant.memoryMb ?? 256) * 1024 * 1024)
      expect(last?.pids).toBeGreaterThan(0)
    })
  },
)
