import { randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { expect } from 'vitest'
import { spawnBuilt } from '../helpers/pty.js'
import { writeScript, type RunSummary, type ScriptStep } from './helpers/agent.js'
import { gauntlet, suite } from './helpers/cases.js'
import { treeHash } from './helpers/hash.js'
import { QUICK, SCALE } from './helpers/options.js'
import { show, type LogEntry } from './helpers/world.js'

/**
 * Load: many `safe-coder run` processes at once, each a scripted agent making many tool calls
 * (each a commit) in its own session and sandbox, while the dashboard watches them all in a
 * pseudo-terminal. Every history must be complete and correct, nothing may leak between
 * sessions, nothing may outlive them; the throughput goes to docs/performance.md.
 */

/** The scripted calls of session `i`: writes, bash, reads and edits, each naming the session. */
function plan(i: number, calls: number, tag: string): { steps: ScriptStep[]; subjects: string[] } {
  const steps: ScriptStep[] = []
  const subjects: string[] = []
  for (let k = 0; k < calls; k++) {
    const file = `s${i}/f${k - (k % 4)}.txt`
    let step: ScriptStep
    let subject: string
    switch (k % 4) {
      case 0:
        step = {
          tool_calls: [
            { tool: 'write_file', input: { path: file, content: `${tag} call ${k}\nline two\n` } },
          ],
        }
        subject = `write_file: ${file}`
        break
      case 1:
        step = {
          tool_calls: [
            {
              tool: 'bash',
              input: { command: `echo ${tag}-${k} >> s${i}/bash.log; ls /workspace` },
            },
          ],
        }
        subject = `bash: echo ${tag}-${k} >> s${i}/bash.log; ls /workspace`
        break
      case 2:
        step = { tool_calls: [{ tool: 'read_file', input: { path: file } }] }
        subject = `read_file: ${file}`
        break
      default:
        step = {
          tool_calls: [
            {
              tool: 'edit_file',
              input: { path: file, old_string: 'line two', new_string: `edited by ${tag}` },
            },
          ],
        }
        subject = `edit_file: ${file}`
    }
    steps.push(step)
    subjects.push(subject)
  }
  steps.push({ text: `done ${tag}` })
  return { steps, subjects }
}

suite('load', (backend) => {
  gauntlet(
    backend,
    `${SCALE.loadSessions} sessions at once, ${SCALE.loadCalls} tool calls each, watched by the dashboard`,
    async (w, c) => {
      const sessions = SCALE.loadSessions
      const calls = SCALE.loadCalls
      const projects: string[] = []
      const tags: string[] = []
      const plans: ReturnType<typeof plan>[] = []
      const scripts: string[] = []
      for (let i = 0; i < sessions; i++) {
        const dir = path.join(w.root, 'load', `p${i}`)
        await mkdir(dir, { recursive: true })
        await writeFile(path.join(dir, 'README.md'), `# project ${i}\n`)
        projects.push(dir)
        const tag = `S${i}-${randomBytes(4).toString('hex')}`
        tags.push(tag)
        const p = plan(i, calls, tag)
        plans.push(p)
        scripts.push(await writeScript(w, [p.steps]))
      }
      const before = await Promise.all(projects.map((p) => treeHash(p)))

      // The dashboard, on its own (idle) session, watching every other process's session.
      const tui = spawnBuilt(['tui', '--demo', '--path', w.project], {
        cwd: w.project,
        env: w.env,
        columns: 140,
        rows: 48,
      })
      await tui.waitFor(/sessions[\s\S]*chat/, 60_000)

      const started = performance.now()
      const runs = projects.map((dir, i) =>
        w.start(['run', '--demo-script', scripts[i] ?? '', '--json', '-p', dir, 'go'], {
          cwd: dir,
          timeout: 900_000,
        }),
      )
      // The dashboard shows the other processes' sessions while they run (marked @).
      // Rows of watched sessions carry "@" and the project's name (p0 … p9).
      // Watched for as long as the runs last (no fixed budget: ten TCG VMs next to a busy CPU
      // took over 120 s to all come up); each one runs long enough to be seen.
      let watched = 0
      const distinct = new Set<string>()
      const allDone = Promise.all(runs)
      const seen = Promise.race([
        tui
          .waitFor((screen) => {
            const rows = screen.split('\n').filter((l) => l.includes('@'))
            for (const row of rows)
              for (const m of row.matchAll(/\bp(\d+)\b/g)) distinct.add(m[1] ?? '')
            watched = Math.max(watched, rows.length)
            return distinct.size >= sessions
          }, 900_000)
          .then(
            () => true,
            () => false,
          ),
        allDone.then(() => distinct.size >= sessions),
      ])
      const results = await allDone
      const seconds = (performance.now() - started) / 1000
      const sawThem = await seen
      c.note(
        `the dashboard listed ${distinct.size} of the ${sessions} sessions as watched (@), up to ${watched} at once`,
      )

      const summaries = results.map((r, i) => {
        expect(r.exitCode, `run ${i}: ${String(r.stderr).slice(-2000)}`).toBe(0)
        return JSON.parse(String(r.stdout)) as RunSummary
      })
      const toolCalls = summaries.reduce((n, s) => n + s.toolCalls, 0)
      c.meta.throughput = {
        sessions,
        callsPerSession: calls,
        toolCalls,
        seconds,
        callsPerSecond: toolCalls / seconds,
        backend,
        quick: QUICK,
      }
      c.note(
        `${toolCalls} tool calls in ${seconds.toFixed(1)} s: ${(toolCalls / seconds).toFixed(1)} calls/s over all sessions`,
      )

      // Every history complete and correct: 50 commits with the right subjects, in order.
      const ids = summaries.map((s) => s.sessionId)
      expect(new Set(ids).size).toBe(sessions)
      for (let i = 0; i < sessions; i++) {
        const summary = summaries[i]
        expect(summary?.toolCalls).toBe(calls)
        expect(summary?.commits).toHaveLength(calls)
        const log = await w.cli(['log', ids[i] ?? '', '--json'])
        expect(log.exitCode, show(log)).toBe(0)
        const entries = JSON.parse(log.stdout) as LogEntry[]
        expect(entries).toHaveLength(calls + 1)
        const subjects = entries
          .slice(0, calls)
          .map((e) => e.subject)
          .reverse()
        const expected = plans[i]?.subjects.map((s) => (s.length > 72 ? s.slice(0, 71) : s)) ?? []
        subjects.forEach((s, k) => {
          expect(
            s.startsWith((expected[k] ?? '').slice(0, 60)),
            `session ${i} commit ${k}: ${s} vs ${expected[k] ?? ''}`,
          ).toBe(true)
        })
        for (const e of entries.slice(0, calls)) expect(e.trailers.Session).toBe(ids[i])
      }

      // No leakage: a session's mirror, history and transcript hold only its own tag and files.
      for (let i = 0; i < sessions; i++) {
        const id = ids[i] ?? ''
        const work = w.workDir(id)
        const entries = await readdir(work)
        expect(entries.sort()).toEqual(['README.md', `s${i}`])
        const transcript = await readFile(path.join(w.sessionsDir, id, 'transcript.jsonl'), 'utf8')
        const bashLog = await readFile(path.join(work, `s${i}/bash.log`), 'utf8')
        for (let j = 0; j < sessions; j++) {
          if (j === i) continue
          expect(
            transcript.includes(tags[j] ?? '?'),
            `session ${j}'s tag in session ${i}'s transcript`,
          ).toBe(false)
          expect(
            bashLog.includes(tags[j] ?? '?'),
            `session ${j}'s tag in session ${i}'s sandbox`,
          ).toBe(false)
          expect(
            transcript.includes(`"s${j}/`),
            `session ${j}'s files listed in session ${i}`,
          ).toBe(false)
        }
      }

      // The projects themselves are untouched (nothing was synced).
      expect(await Promise.all(projects.map((p) => treeHash(p)))).toEqual(before)

      // The dashboard exits cleanly (its own session has no work: nothing to ask).
      tui.type('\x1b')
      await new Promise((r) => setTimeout(r, 200))
      tui.type('q')
      const asked = await Promise.race([
        tui.waitFor(/Quit how\?/, 10_000).then(
          () => true,
          () => false,
        ),
        tui.exited.then(() => false),
      ])
      if (asked) tui.type('k')
      expect(await tui.exited).toBe(0)
      expect(
        sawThem,
        `the dashboard showed only ${distinct.size} of the ${sessions} running sessions`,
      ).toBe(true)
      const gc = await w.gc()
      expect(gc.exitCode, show(gc)).toBe(0)
    },
    // 50 tool calls and the answer are 51 model steps: above the default limit of 50. Ten VMs
    // booting at once under TCG on two cores took over the 90 s boot timeout (a product default
    // for one VM): here it is a hang guard, at its maximum.
    {
      timeoutMs: 1_200_000,
      world: {
        userConfig: `[agent]\nmax_steps = ${SCALE.loadCalls + 10}\n\n[vm]\nboot_timeout_s = 600\n`,
      },
    },
  )
})
