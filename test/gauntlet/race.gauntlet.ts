import { expect } from 'vitest'
import {
  CHECK_RACER_COMMAND,
  RACED_DIRS,
  STOP_RACER_COMMAND,
  startRacerCommand,
} from '../helpers/scan-racer.js'
import { call, outputText, runScripted, toolResults, type ScriptStep } from './helpers/agent.js'
import { gauntlet, suite } from './helpers/cases.js'
import { SCALE } from './helpers/options.js'
import { show } from './helpers/world.js'

/**
 * Races: a process the agent left running in its sandbox works against the host while Safe
 * Coder records the session. The host checks after the case prove the canary's token reached
 * no object of the history, the mirror, the transcript or the events.
 */
suite('attack', (backend) => {
  const vm = backend === 'qemu' || backend === 'firecracker'
  // Bounded by count. A microVM's mirror is written only by the host's pulls (which carry the
  // swaps over as links and directories), and under TCG every call costs most of a second.
  const calls = vm ? Math.max(5, Math.round(SCALE.raceCalls / 6)) : SCALE.raceCalls

  gauntlet(backend, 'scan race with a live process', async (w, c) => {
    const steps: ScriptStep[] = [
      call('bash', { command: startRacerCommand(w.canary) }),
      ...Array.from({ length: calls }, (_, i) => call('bash', { command: `echo ${i} > n.txt` })),
      call('bash', { command: CHECK_RACER_COMMAND }),
      call('bash', { command: STOP_RACER_COMMAND }),
      { text: 'done' },
    ]
    const started = Date.now()
    const { result, summary, id } = await runScripted(w, steps, { timeout: 900_000 })
    const seconds = (Date.now() - started) / 1000
    expect(result.exitCode, show(result)).toBe(0)
    // Every call was recorded: no commit failed under the racer.
    expect(summary?.commits).toHaveLength(calls + 3)
    const results = await toolResults(w, id)
    expect(results.filter((r) => r.isError === true).map(outputText)).toEqual([])
    const check = outputText(results[calls + 1] ?? { toolCallId: '', toolName: '', output: '' })
    // The racer and the dev server lived through every commit.
    expect(check).toMatch(/RACER-ALIVE/)
    expect(check).toMatch(/alive \d+/)
    const log = await w.log(id)
    const swaps = log.flatMap((e) => e.files).filter((f) => RACED_DIRS.includes(f.path)).length
    // The racer really ran during the commits: the history caught its swaps.
    expect(swaps).toBeGreaterThan(0)
    c.note(
      `${calls} commits while a process swapped ${RACED_DIRS.length} directories with links to the canary in a tight loop: none failed, ${swaps} swaps recorded as links or directories, no canary byte in any object; the dev server answered "${/alive \d+/.exec(check)?.[0] ?? '?'}" afterwards (${seconds.toFixed(1)} s in all)`,
    )
  })
})
