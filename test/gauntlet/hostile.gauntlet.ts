import { lstat, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { expect } from 'vitest'
import { binPath } from '../helpers/built-cli.js'
import { call, outputText, runScripted, toolResults } from './helpers/agent.js'
import { gauntlet, suite } from './helpers/cases.js'
import { treeHash } from './helpers/hash.js'
import { SCALE } from './helpers/options.js'
import { STACK_FRAME, show, type CliResult } from './helpers/world.js'

/**
 * Hostile workspace content: git machinery that would run on the host if anything consulted it,
 * names built to break parsers and terminals, a 10 GB sparse file, a great many tiny files, and
 * an output flood. Each is recorded, reviewed (log, diff) and synced, and the host must show
 * nothing ran and nothing outside the project changed.
 */

// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f\u009b\u202e]/

/** Output meant for a terminal must not carry raw control characters a name smuggled in. */
function expectNoRawControl(result: CliResult, what: string): void {
  const problem = rawControl(result, what)
  expect(problem, `${problem ?? ''}\n${show(result)}`).toBeUndefined()
}

/** Which raw control characters (and bidi overrides) an output carries, if any. */
function rawControl(result: CliResult, what: string): string | undefined {
  const out = `${result.stdout}\n${result.stderr}`
  const found = new Set<string>()
  for (const m of out.matchAll(new RegExp(TERMINAL_CONTROL.source, 'g')))
    found.add(`U+${(m[0].codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`)
  return found.size === 0 ? undefined : `${what} prints raw ${[...found].join(' ')}`
}

/** Every hook git runs, each leaving a marker in the canary if it ever executes. */
function gitTraps(markers: string): string {
  const hooks = [
    'pre-commit',
    'post-commit',
    'post-checkout',
    'post-merge',
    'pre-push',
    'pre-rebase',
    'reference-transaction',
    'post-index-change',
    'fsmonitor-watchman',
    'pre-auto-gc',
  ]
  const touch = (what: string) => `touch ${markers}/${what}`
  return `
set -e
mkdir -p .git/hooks sub/.git/hooks
for h in ${hooks.join(' ')}; do
  printf '#!/bin/sh\\n${touch('hook-$h')}\\n' "$h" > .git/hooks/$h
  chmod +x .git/hooks/$h
  cp .git/hooks/$h sub/.git/hooks/$h
done
cat > .git/config <<'CFG'
[core]
	repositoryformatversion = 0
	bare = false
	fsmonitor = "${touch('fsmonitor')}; false"
	hooksPath = .git/hooks
	pager = ${touch('pager')}
	editor = ${touch('editor')}
	sshCommand = ${touch('ssh')}
[filter "evil"]
	clean = ${touch('filter-clean')}
	smudge = ${touch('filter-smudge')}
	process = ${touch('filter-process')}
	required = true
[diff "evil"]
	textconv = ${touch('textconv')}
	command = ${touch('diff-command')}
[merge "evil"]
	driver = ${touch('merge-driver')}
CFG
cp .git/config sub/.git/config
printf 'ref: refs/heads/main\\n' > .git/HEAD
cp .git/HEAD sub/.git/HEAD
mkdir -p .git/objects .git/refs/heads sub/.git/objects sub/.git/refs/heads
printf '* filter=evil diff=evil merge=evil\\n' > .gitattributes
printf '* filter=evil diff=evil merge=evil\\n' > sub/.gitattributes
echo changed > hello.txt
echo sub > sub/file.txt
`
}

suite('attack', (backend) => {
  gauntlet(
    backend,
    'planted .git/hooks, .git/config core.fsmonitor and .gitattributes filters, then log, diff, sync, revert, resume',
    async (w, c) => {
      const gitBefore = await treeHash(path.join(w.project, '.git'))
      const r = await w.exec(gitTraps(w.markers))
      expect(r.exitCode, show(r)).toBe(0)
      const [plant] = await w.log(r.id)
      expect(plant?.files.map((f) => f.path)).toEqual(
        expect.arrayContaining([
          '.git/config',
          '.git/hooks/post-checkout',
          '.gitattributes',
          'sub/.git/config',
        ]),
      )
      const commands: string[][] = [
        ['log', r.id],
        ['log', r.id, '--json'],
        ['diff', r.id, '--no-color'],
        ['diff', r.id, plant?.oid ?? '', '--no-color'],
        ['diff', r.id, '--stat'],
        ['diff', r.id, '--', '.gitattributes', 'hello.txt'],
        ['sessions'],
        ['sync', r.id, '--dry-run'],
      ]
      for (const args of commands) {
        const out = await w.cli(args)
        expect(out.exitCode, show(out)).toBe(0)
      }
      // A command in the same session, a revert of the planting commit, then resume.
      const again = await w.exec('git status >/dev/null 2>&1; echo again > again.txt', {
        session: r.id,
      })
      expect(again.exitCode, show(again)).toBe(0)
      const revert = await w.cli(['revert', r.id, plant?.oid ?? '', '--', 'hello.txt'])
      expect(revert.exitCode, show(revert)).toBe(0)
      const resume = await w.cli(['resume', r.id])
      expect(resume.exitCode, show(resume)).toBe(0)
      const plan = await w.cli(['sync', r.id, '--dry-run'])
      expect(plan.stdout).toMatch(/\.git\/config.*refused/)
      expect(plan.stdout).toMatch(/sub\/\.git\/config.*refused/)
      expect(plan.stdout).toMatch(/\.gitattributes/)
      const sync = await w.cli(['sync', r.id, '--yes'])
      expect(sync.exitCode, show(sync)).toBe(0)
      expect(await treeHash(path.join(w.project, '.git'))).toEqual(gitBefore)
      await expect(lstat(path.join(w.project, 'sub/.git'))).rejects.toThrow()
      // The user then runs git in the project: the synced .gitattributes names a filter that
      // nothing defines, so nothing runs either.
      const env = { PATH: process.env.PATH ?? '', HOME: w.home, GIT_CONFIG_NOSYSTEM: '1' }
      for (const args of [['status'], ['diff'], ['add', '-A'], ['commit', '-qm', 'user commit']]) {
        await execa('git', args, { cwd: w.project, env, extendEnv: false, reject: false })
      }
      expect(await readdir(w.markers)).toEqual([])
      await w.rebaseProject()
      c.note(
        "10 hooks, core.fsmonitor/pager/editor/sshCommand, filter/diff/merge drivers planted at the root and in sub/: no marker after log, diff, sessions, sync, revert, resume, a later exec, and the user's own git status/diff/add/commit after the sync; .git/ and sub/.git/ refused by sync",
      )
    },
    { world: { git: true }, timeoutMs: 240_000 },
  )

  gauntlet(
    backend,
    'an embedded bare repository (HEAD, config with core.fsmonitor) synced into the project',
    async (w, c) => {
      const r = await w.exec(`
set -e
mkdir -p vendor/lib/objects/info vendor/lib/refs/heads
# Not empty, so the history (which has no empty folders) keeps them: a valid git dir after sync.
touch vendor/lib/objects/info/packs vendor/lib/refs/heads/.keep
printf 'ref: refs/heads/main\\n' > vendor/lib/HEAD
printf '[core]\\n\\trepositoryformatversion = 0\\n\\tbare = false\\n\\tworktree = ..\\n\\tfsmonitor = "touch ${w.markers}/bare-fsmonitor; false"\\n' > vendor/lib/config
echo 'hello' > vendor/lib/README
`)
      expect(r.exitCode, show(r)).toBe(0)
      const plan = await w.cli(['sync', r.id, '--dry-run'])
      const line =
        plan.stdout
          .split('\n')
          .find((l) => l.includes('vendor/lib/config'))
          ?.trim() ?? ''
      c.note(`plan: "${line}"`)
      const sync = await w.cli(['sync', r.id, '--yes'])
      expect([0, 65]).toContain(sync.exitCode)
      await w.rebaseProject()
      // What a shell prompt with git integration does on `cd vendor/lib`.
      await execa('git', ['status'], {
        cwd: path.join(w.project, 'vendor/lib'),
        env: { PATH: process.env.PATH ?? '', HOME: w.home, GIT_CONFIG_NOSYSTEM: '1' },
        extendEnv: false,
        reject: false,
      })
      const ran = (await readdir(w.markers)).length > 0
      if (ran) c.note('`git status` in vendor/lib then ran the planted core.fsmonitor on the host')
      // Clean the marker so the rest of the host checks report only this finding.
      for (const m of await readdir(w.markers)) await rm(path.join(w.markers, m))
      expect(
        /refused|risky|git/i.test(line) || !ran,
        'sync applied an embedded bare repository without refusing or flagging it, and git run in it executed its core.fsmonitor',
      ).toBe(true)
    },
  )

  gauntlet(backend, 'a path longer than PATH_MAX (4,096 bytes) in the workspace', async (w, c) => {
    const r = await w.exec(`
echo other > other.txt
d=$(printf 'd%.0s' $(seq 250))
for i in $(seq 17); do mkdir "$d" && cd "$d"; done
echo deep > f
`)
    c.note(
      `exec exit ${r.exitCode}: ${
        r.stderr
          .split('\n')
          .find((l) => /Cannot|not recorded|skipped/.test(l))
          ?.slice(0, 90) ?? ''
      }…`,
    )
    expect(r.stderr).not.toMatch(STACK_FRAME)
    // Expected: the deep path is skipped and reported, the rest recorded; later commands work.
    expect(r.exitCode, show(r)).toBe(0)
    expect(r.stderr).toMatch(/not recorded: .*dddd/)
    const [last] = await w.log(r.id)
    expect(last?.files.map((f) => f.path)).toContain('other.txt')
    const again = await w.exec('echo again > again.txt', { session: r.id })
    expect(again.exitCode, show(again)).toBe(0)
  })

  gauntlet(
    backend,
    'file names with newlines, control characters, `..`-like names, 255-byte names, invalid UTF-8',
    async (w, c) => {
      const r = await w.exec(String.raw`
mkdir -p names && cd names
touch -- "$(printf 'new\nline')" "$(printf 'tab\there')" "$(printf 'cr\rhidden')" "$(printf 'bell\a')"
touch -- "$(printf 'esc\033[2J\033]0;pwned\a')" "$(printf 'csi\0233m')" "$(printf 'rtl\342\200\256txt.exe')"
touch -- "$(printf 'bad\377utf8')" "$(printf 'overlong\300\257')"
touch -- '...' '..a' 'a..' ' ' '-rf' '--help' "$(printf '%0255d' 0)"
touch -- "$(printf '%0256d' 0)" 2>/dev/null || echo "256-byte name refused by the file system"
mkdir -p "$(printf 'dir\nwith\033[1mnewline')" && echo x > "$(printf 'dir\nwith\033[1mnewline')/f"
cd /workspace
echo ok
`)
      expect(r.exitCode, show(r)).toBe(0)
      expect(r.stderr).not.toMatch(STACK_FRAME)
      expectNoRawControl(r, 'exec')
      const skipped = r.stderr.split('\n').filter((l) => /not recorded/.test(l))
      c.note(
        `exec: ${skipped.length} names not recorded (${[...new Set(skipped.map((l) => /\(([^)]+)\)\s*$/.exec(l)?.[1] ?? '?'))].join(', ')})`,
      )
      // Terminal output of review commands must not carry what a name smuggled in (a newline
      // forges a line of the listing, ESC rewrites the screen, U+202E reverses what follows).
      const raw: string[] = []
      for (const args of [
        ['log', r.id],
        ['log', r.id, '--json'],
        ['diff', r.id, '--stat'],
        ['diff', r.id],
        ['sessions'],
        ['sync', r.id, '--dry-run'],
      ]) {
        const out = await w.cli(args)
        expect(out.exitCode, show(out)).toBe(0)
        expect(out.stderr).not.toMatch(STACK_FRAME)
        const problem = args.includes('--json')
          ? undefined
          : rawControl(
              out,
              args[0] === 'diff' ? args.join(' ').replace(r.id, 'ID') : (args[0] ?? ''),
            )
        if (problem !== undefined) raw.push(problem)
        // A newline in a name must not start a line of its own in `log`.
        if (args[0] === 'log' && !args.includes('--json') && /^line$/m.test(out.stdout))
          raw.push("log prints a name's newline raw (a forged line)")
      }
      const sync = await w.cli(['sync', r.id, '--yes'])
      expect(sync.exitCode, show(sync)).toBe(0)
      const syncProblem = rawControl(sync, 'sync')
      if (syncProblem !== undefined) raw.push(syncProblem)
      const synced = await readdir(path.join(w.project, 'names'))
      expect(synced).not.toContain(Buffer.from('bad\xffutf8', 'latin1').toString())
      expect(synced).toEqual(expect.arrayContaining(['...', '..a', 'a..', '-rf', '--help']))
      c.note(`sync created ${synced.length} entries in names/; invalid UTF-8 names stayed out`)
      await w.rebaseProject()
      if (raw.length > 0) c.note(raw.join('; '))
      expect(raw, 'raw control characters in review output').toEqual([])
    },
    { timeoutMs: 240_000 },
  )

  gauntlet(
    backend,
    'agent tool paths with `..` segments, NUL, over-long names and escape sequences',
    async (w, c) => {
      // The agent's tools: `..` segments, NUL, over-long names.
      const agent = await runScripted(w, [
        {
          tool_calls: [
            { tool: 'write_file', input: { path: 'a/../../escape.txt', content: 'x' } },
            { tool: 'write_file', input: { path: 'a/./b/../inside.txt', content: 'inside\n' } },
            { tool: 'write_file', input: { path: 'nul\u0000name.txt', content: 'x' } },
            { tool: 'write_file', input: { path: `${'x'.repeat(300)}.txt`, content: 'x' } },
            { tool: 'write_file', input: { path: `${'d/'.repeat(2100)}f.txt`, content: 'x' } },
            { tool: 'read_file', input: { path: 'names/\u001b[2J' } },
          ],
        },
        { text: 'done' },
      ])
      const results = await toolResults(w, agent.id)
      c.note(
        `run exit ${agent.result.exitCode}; tools: ${results.map((x) => (x.isError === true ? outputText(x).split(/[.:]/)[0]?.slice(0, 40) : 'ok')).join(' / ')}${agent.summary?.error === undefined ? '' : `; turn ended by ${agent.summary.error.code}: ${agent.summary.error.message.replace(/x{20,}/g, 'xxx…').slice(0, 90)}`}`,
      )
      const raw = rawControl(agent.result, 'run progress')
      if (raw !== undefined) c.note(raw)
      // Each bad path is the model's mistake: a tool error it can act on, never the turn's end.
      expect(agent.result.exitCode, show(agent.result)).toBe(0)
      expect(results.map((x) => x.isError === true)).toEqual([true, false, true, true, true, true])
      expect(raw).toBeUndefined()
    },
  )

  gauntlet(backend, 'a 10 GB sparse file, in the sandbox and in the project', async (w, c) => {
    await truncate(await writeFileReturning(path.join(w.project, 'project.sparse')), 10 * 1024 ** 3)
    await w.rebaseProject()
    const env = { NODE_OPTIONS: '--max-old-space-size=192' }
    const started = Date.now()
    const r = await w.exec('truncate -s 10G big.sparse && echo made', { env })
    const took = Date.now() - started
    expect(r.exitCode, show(r)).toBe(0)
    expect(r.stderr).toMatch(/skipped project\.sparse: too-large/)
    const [last] = await w.log(r.id)
    // Every backend records the same placeholder: a VM's guest never sends the bytes, but says
    // the size, and the mirror gets a sparse stand-in (docs/microvm.md).
    expect(last?.files.find((f) => f.path === 'big.sparse')?.tooLarge).toBe(true)
    const plan = await w.cli(['sync', r.id, '--dry-run'], { env })
    expect(plan.stdout, show(plan)).toMatch(/big\.sparse.*(size cap|too large)/)
    const sync = await w.cli(['sync', r.id, '--yes'], { env })
    expect(sync.exitCode, show(sync)).toBe(0)
    await expect(lstat(path.join(w.project, 'big.sparse'))).rejects.toThrow()
    expect((await stat(path.join(w.project, 'project.sparse'))).size).toBe(10 * 1024 ** 3)
    c.note(
      `copy-in skipped the project's 10 GB file, the sandbox's was recorded as too large, sync left both alone; exec with a 192 MB heap in ${took} ms`,
    )
  })

  gauntlet(
    backend,
    `a great many tiny files (${SCALE.tinyFiles.toLocaleString('en')})`,
    async (w, c) => {
      const n = SCALE.tinyFiles
      const dirs = Math.max(1, Math.ceil(n / 10_000))
      const started = Date.now()
      const r = await w.exec(
        `mkdir many && cd many && for d in $(seq ${dirs}); do mkdir $d; (cd $d && seq ${Math.ceil(n / dirs)} | xargs touch); done; find . -type f | wc -l`,
        { timeout: 3_600_000 },
      )
      const execMs = Date.now() - started
      expect(r.exitCode, show(r)).toBe(0)
      const made = Number(r.stdout.trim())
      expect(made).toBeGreaterThanOrEqual(n)
      const listed = await w.sessions()
      expect(listed.sessions[0]?.changedFiles).toBe(made)
      const t1 = Date.now()
      const log = await w.cli(['log', r.id, '-n', '1'], { timeout: 1_800_000 })
      expect(log.exitCode, show(log)).toBe(0)
      const plan = await w.cli(['sync', r.id, '--dry-run'], { timeout: 1_800_000 })
      expect(plan.exitCode, show(plan)).toBe(0)
      expect(plan.stdout).toMatch(new RegExp(`${made} change`))
      c.note(
        `${made.toLocaleString('en')} files: exec + commit ${(execMs / 1000).toFixed(1)} s, log + sync plan ${((Date.now() - t1) / 1000).toFixed(1)} s`,
      )
    },
    { timeoutMs: 3_600_000 },
  )

  gauntlet(
    backend,
    "an output flood (zip-bomb-like) through exec, with the CLI's heap capped at 128 MB",
    async (w, c) => {
      const bytes = SCALE.floodBytes
      // exec streams the command's output; the CLI's heap is capped, so it must not keep it.
      const child = execa(
        process.execPath,
        [binPath, 'exec', '-q', '--', 'bash', '-c', `head -c ${bytes} /dev/zero | tr '\\0' A`],
        {
          cwd: w.project,
          env: { ...w.env, NODE_OPTIONS: '--max-old-space-size=128' },
          extendEnv: false,
          reject: false,
          buffer: false,
          timeout: 1_800_000,
        },
      )
      let seen = 0
      child.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.length
      })
      const started = Date.now()
      const done = await child
      const ms = Date.now() - started
      c.note(
        `the CLI ${done.exitCode === 0 ? 'exited 0' : `died (${done.signal ?? `exit ${done.exitCode ?? '?'}`})`} after delivering ${(seen / 1024 ** 2).toFixed(0)} of ${(bytes / 1024 ** 2).toFixed(0)} MiB`,
      )
      // A reader that is slow to start (a pager, a busy pipe): every byte must still arrive.
      const slowBytes = 10 * 1024 ** 2
      const slow = execa(
        process.execPath,
        [binPath, 'exec', '-q', '--', 'head', '-c', String(slowBytes), '/dev/zero'],
        {
          cwd: w.project,
          env: w.env,
          extendEnv: false,
          reject: false,
          buffer: false,
          timeout: 300_000,
        },
      )
      slow.stdout.pause()
      await new Promise((resolve) => setTimeout(resolve, 3000))
      let slowSeen = 0
      slow.stdout.on('data', (chunk: Buffer) => {
        slowSeen += chunk.length
      })
      slow.stdout.resume()
      const slowDone = await slow
      c.note(
        `a reader that starts after 3 s got ${slowSeen} of ${slowBytes} bytes (exit ${slowDone.exitCode ?? '?'})`,
      )
      expect(done.exitCode, String(done.stderr)).toBe(0)
      expect(seen, 'bytes of the flood that reached stdout').toBe(bytes)
      expect(slowSeen, 'bytes that reached a slow reader').toBe(slowBytes)
      c.note(
        `exec: ${(bytes / 1024 ** 2).toFixed(0)} MiB streamed through a 128 MB heap at ${(bytes / 1024 ** 2 / (ms / 1000)).toFixed(0)} MiB/s`,
      )
    },
    { timeoutMs: 1_800_000 },
  )

  gauntlet(
    backend,
    "an output flood through the agent's bash tool",
    async (w, c) => {
      // The tool result is cut, the transcript stays small.
      const agent = await runScripted(w, [
        call('bash', {
          command: `head -c ${SCALE.agentFloodBytes} /dev/zero | tr '\\0' A; echo; echo tail-marker`,
        }),
        { text: 'done' },
      ])
      expect(agent.result.exitCode, show(agent.result)).toBe(0)
      const [result] = await toolResults(w, agent.id)
      const text = outputText(result ?? { toolCallId: '', toolName: '', output: '' })
      expect(text.length).toBeLessThan(40_000)
      expect(text).toMatch(/tail-marker/)
      const transcript = await stat(path.join(w.sessionsDir, agent.id, 'transcript.jsonl'))
      expect(transcript.size).toBeLessThan(200_000)
      c.note(
        `agent: ${(SCALE.agentFloodBytes / 1024 ** 2).toFixed(0)} MiB from bash became a ${text.length}-char tool result (head and tail kept); transcript ${transcript.size} bytes`,
      )
    },
    { timeoutMs: 1_800_000 },
  )
})

async function writeFileReturning(file: string): Promise<string> {
  await writeFile(file, '')
  return file
}
