import { existsSync } from 'node:fs'
import { mkdir, readdir, rm, statfs, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { expect } from 'vitest'
import { call, runScripted } from './helpers/agent.js'
import { waitUntil } from './helpers/backend.js'
import { gauntlet, suite, type CaseContext } from './helpers/cases.js'
import { SCALE } from './helpers/options.js'
import { afterFault, committedFiles, projectFiles, sessionRow } from './helpers/recovery.js'
import { STACK_FRAME, show, type World } from './helpers/world.js'

/**
 * Faults: the Safe Coder process SIGKILLed at each stage, the sandbox killed from outside, the
 * engine restarted, the state disk full, the sandbox out of memory. After each, `sessions` must
 * tell the truth, `resume` must work (or say why not), `sync` must apply exactly the committed
 * work and `gc` must leave nothing running; then the usual host checks.
 */

/** Writes `count` small files under `dir` in the project, 1,000 per folder. */
async function manyFiles(root: string, dir: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    const folder = path.join(root, dir, String(i / 1000))
    await mkdir(folder, { recursive: true })
    await Promise.all(
      Array.from({ length: Math.min(1000, count - i) }, (_, j) =>
        writeFile(path.join(folder, `f${j}.txt`), `file ${i + j}\n`),
      ),
    )
  }
}

/** Files (recursively) under a folder, 0 when it does not exist. */
async function countFiles(dir: string): Promise<number> {
  if (!existsSync(dir)) return 0
  let n = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) n++
  return n
}

/** The session a still-starting CLI process created, once its folder appears. */
async function newSession(w: World): Promise<string> {
  return waitUntil('a session folder', async () => (await w.sessionIds())[0], 60_000, 20)
}

/** A microVM's workspace is its own drive: the host mirror sees files only after a pull. */
function isVm(w: World): boolean {
  return w.backend === 'qemu' || w.backend === 'firecracker'
}

/**
 * Waits until an exec's command has written `file` and is still running: seen in the mirror for a
 * container, and by the `running` line the command prints for a VM (whose mirror lags).
 */
async function commandRunning(
  w: World,
  child: ReturnType<World['start']>,
  id: string,
  file: string,
): Promise<void> {
  let stdout = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  await waitUntil(
    'the command running',
    async () =>
      (await w.probe.running(id, w.env)) !== undefined &&
      (isVm(w) ? stdout.includes('running') : existsSync(path.join(w.workDir(id), file)))
        ? true
        : undefined,
    60_000,
  )
}

async function kill(child: ReturnType<World['start']>): Promise<void> {
  child.kill('SIGKILL')
  await child
}

function say(c: CaseContext, what: string, result: { stdout: string; stderr: string }): void {
  const line = `${result.stdout}\n${result.stderr}`
    .split('\n')
    .map((l) => l.replace(/^safe-coder: /, '').trim())
    .filter((l) => l !== '')
    .join(' ')
  c.note(`${what}: ${line.slice(0, 150)}`)
}

suite('fault', (backend) => {
  gauntlet(
    backend,
    'SIGKILL during copy-in',
    async (w, c) => {
      await manyFiles(w.project, 'many', SCALE.copyInFiles)
      await w.rebaseProject()
      const child = w.start(['exec', '--', 'true'])
      const id = await newSession(w)
      const work = w.workDir(id)
      // Stage: the mirror is filling and commit 0 (the base manifest) does not exist yet.
      await waitUntil(
        'copy-in under way',
        async () => ((await countFiles(work)) > 0 ? true : undefined),
        60_000,
        10,
      )
      await kill(child)
      const manifest = path.join(w.sessionsDir, id, 'base-manifest.json')
      expect(existsSync(manifest), 'killed during copy-in (no base manifest yet)').toBe(false)
      c.note(`killed with ${await countFiles(work)} of ${SCALE.copyInFiles} files copied`)
      const row = await sessionRow(w, id)
      c.note(`sessions: ${row.status}, ${row.commits} commits, changed ${row.changedFiles ?? '?'}`)
      expect(row.status).not.toBe('active')
      // Nothing to resume: it must say so and name the way out.
      const resume = await w.cli(['resume', id])
      say(c, `resume exit ${resume.exitCode}`, resume)
      expect(resume.exitCode).not.toBe(0)
      expect(resume.stderr).not.toMatch(STACK_FRAME)
      const log = await w.cli(['log', id])
      const sync = await w.cli(['sync', id])
      expect(sync.exitCode).not.toBe(0)
      expect(sync.stderr).not.toMatch(STACK_FRAME)
      const gc = await w.gc()
      expect(gc.exitCode, show(gc)).toBe(0)
      const discard = await w.cli(['discard', id, '--yes'])
      expect(discard.exitCode, show(discard)).toBe(0)
      // A session that never got its snapshot holds no work: the fix is to discard it, and the
      // messages must say that, not "take the snapshot first".
      for (const [what, r] of [
        ['resume', resume],
        ['log', log],
        ['sync', sync],
      ] as const)
        expect(r.stderr, `${what} names the way out`).toMatch(
          /discard|incomplete|never finished|interrupted/i,
        )
    },
    { timeoutMs: 300_000 },
  )

  gauntlet(backend, 'SIGKILL during exec (a command still running)', async (w, c) => {
    const child = w.start([
      'exec',
      '--',
      'bash',
      '-c',
      'echo partial > partial.txt; echo running; sleep 600',
    ])
    const id = await newSession(w)
    await commandRunning(w, child, id, 'partial.txt')
    await kill(child)
    const row = await sessionRow(w, id)
    c.note(
      `after the kill: sessions says ${row.status}, ${row.commits} commits; the orphaned sandbox is ${(await w.probe.running(id, w.env)) === undefined ? 'gone' : 'still running'}`,
    )
    await afterFault(w, c, id, { commits: 0 })
    expect((await w.log(id))[0]?.subject).toMatch(/recovered/)
  })

  gauntlet(
    backend,
    'SIGKILL during the commit',
    async (w, c) => {
      const n = SCALE.commitFiles
      const child = w.start([
        'exec',
        '--',
        'bash',
        '-c',
        `mkdir -p made && cd made && for d in $(seq ${Math.ceil(n / 1000)}); do mkdir $d; (cd $d && seq 1000 | xargs touch); done; echo done > ../finished`,
      ])
      const id = await newSession(w)
      await waitUntil('the sandbox to start', () => w.probe.running(id, w.env), 60_000)
      // Stage: the command finished and its sandbox is gone (removed before the commit), but the
      // process has not finished recording.
      await waitUntil(
        'the sandbox removed before the commit',
        async () =>
          existsSync(path.join(w.workDir(id), 'finished')) &&
          (await w.probe.leftovers(id, w.env)).length === 0
            ? true
            : undefined,
        300_000,
        10,
      )
      await kill(child)
      const head = (await w.log(id))[0]?.subject ?? ''
      expect(head, 'killed before the commit was written (HEAD is still the snapshot)').toMatch(
        /^snapshot/,
      )
      c.note(
        `killed between sandbox removal and HEAD moving (${n.toLocaleString('en')} new files to record); approximation: the stage is found from the outside (the sandbox is removed just before the commit starts)`,
      )
      await afterFault(w, c, id, { commits: 0 })
      expect((await w.log(id))[0]?.subject).toMatch(/recovered/)
    },
    { timeoutMs: 600_000 },
  )

  gauntlet(
    backend,
    'SIGKILL during sync, then sync again',
    async (w, c) => {
      const n = SCALE.syncFiles
      const r = await w.exec(
        `mkdir many && cd many && for d in $(seq ${Math.ceil(n / 1000)}); do mkdir $d; (cd $d && seq 1000 | sed 's/^/f/' | xargs -I{} sh -c 'echo {} > {}'); done; echo changed > ../hello.txt`,
        { timeout: 600_000 },
      )
      expect(r.exitCode, show(r)).toBe(0)
      const original = await committedFilesOfProject(w)
      const child = w.start(['sync', r.id, '--yes'])
      const many = path.join(w.project, 'many')
      await waitUntil(
        'sync under way',
        async () => ((await countFiles(many)) > 0 ? true : undefined),
        120_000,
        5,
      )
      await kill(child)
      const partial = await countFiles(many)
      expect(partial, 'killed half-way').toBeLessThan(Math.ceil(n / 1000) * 1000)
      c.note(`killed with ${partial} of ${Math.ceil(n / 1000) * 1000} files written`)
      const row = await sessionRow(w, r.id)
      c.note(`sessions: ${row.status}, ${row.unsynced ? 'unsynced' : 'synced'}`)
      expect(row.unsynced, 'a sync that never finished is not reported as synced').toBe(true)
      // The next sync rolls the interrupted one back, then applies everything.
      await afterFault(w, c, r.id, { commits: 1 })
      // Undo brings back the project as it was before the (completed) sync.
      const undo = await w.cli(['sync', '--undo', r.id])
      expect(undo.exitCode, show(undo)).toBe(0)
      expect(Object.fromEntries(await committedFilesOfProject(w))).toEqual(
        Object.fromEntries(original),
      )
      await w.rebaseProject()
    },
    { timeoutMs: 600_000 },
  )

  gauntlet(
    backend,
    'SIGKILL during sync --undo, then undo again',
    async (w, c) => {
      const n = SCALE.syncFiles
      const r = await w.exec(
        `mkdir many && cd many && for d in $(seq ${Math.ceil(n / 1000)}); do mkdir $d; (cd $d && seq 1000 | sed 's/^/f/' | xargs -I{} sh -c 'echo {} > {}'); done`,
        { timeout: 600_000 },
      )
      expect(r.exitCode, show(r)).toBe(0)
      const original = await committedFilesOfProject(w)
      const sync = await w.cli(['sync', r.id, '--yes'])
      expect(sync.exitCode, show(sync)).toBe(0)
      const many = path.join(w.project, 'many')
      const total = await countFiles(many)
      const child = w.start(['sync', '--undo', r.id])
      await waitUntil(
        'undo under way',
        async () => ((await countFiles(many)) < total ? true : undefined),
        120_000,
        5,
      )
      await kill(child)
      const left = await countFiles(many)
      expect(left, 'killed half-way through the undo').toBeGreaterThan(0)
      c.note(`killed with ${left} of ${total} synced files still present`)
      const row = await sessionRow(w, r.id)
      c.note(`sessions: ${row.status}, ${row.unsynced ? 'unsynced' : 'synced'}`)
      expect(row.status).not.toBe('active')
      const again = await w.cli(['sync', '--undo', r.id])
      say(c, `undo again: exit ${again.exitCode}`, again)
      expect(again.stderr).not.toMatch(STACK_FRAME)
      expect(again.exitCode, show(again)).toBe(0)
      expect(
        Object.fromEntries(await committedFilesOfProject(w)),
        'the project is back as it was',
      ).toEqual(Object.fromEntries(original))
      const gc = await w.gc()
      expect(gc.exitCode).toBe(0)
    },
    { timeoutMs: 600_000 },
  )

  gauntlet(backend, 'the sandbox killed from outside during exec', async (w, c) => {
    const child = w.start([
      'exec',
      '--',
      'bash',
      '-c',
      'echo before > before.txt; echo running; sleep 600',
    ])
    const id = await newSession(w)
    await commandRunning(w, child, id, 'before.txt')
    await w.probe.killFromOutside(id, w.env)
    const done = await child
    const stderr = String(done.stderr)
    expect(done.exitCode, stderr).toBe(70)
    expect(stderr).not.toMatch(STACK_FRAME)
    expect(stderr).toMatch(/hint:/)
    say(c, 'exec', {
      stdout: '',
      stderr: stderr
        .split('\n')
        .filter((l) => /gone|killed|hint/i.test(l))
        .join(' '),
    })
    const [last] = await w.log(id)
    expect(last?.trailers.Exit).toBe('sandbox-gone')
    expect(last?.files.map((f) => f.path)).toContain('before.txt')
    const next = await w.exec('cat before.txt', { session: id })
    expect(next.stdout).toBe('before')
    await afterFault(w, c, id, { commits: 1 })
  })

  gauntlet(backend, 'the sandbox killed from outside during an agent tool call', async (w, c) => {
    const script = runScripted(w, [
      call('write_file', { path: 'first.txt', content: 'first\n' }),
      call('bash', { command: 'echo during > during.txt; sleep 600' }),
      { text: 'never' },
    ])
    const id = await newSession(w)
    await waitUntil(
      'the tool call running',
      async () =>
        existsSync(path.join(w.workDir(id), isVm(w) ? 'first.txt' : 'during.txt')) &&
        (await w.probe.running(id, w.env)) !== undefined
          ? true
          : undefined,
      60_000,
    )
    // A VM's files reach the mirror only when a call ends: the first call has; give the second
    // (an echo, then a sleep) time to write before the kill.
    if (isVm(w)) await new Promise((resolve) => setTimeout(resolve, 4000))
    await w.probe.killFromOutside(id, w.env)
    const { result, summary } = await script
    expect(result.exitCode, show(result)).toBe(70)
    expect(result.stderr).not.toMatch(STACK_FRAME)
    c.note(
      `run: exit 70, ${summary?.error?.code ?? '?'}: ${summary?.error?.message.slice(0, 80) ?? ''}`,
    )
    const log = await w.log(id)
    expect(log.map((e) => e.trailers.Tool)).toEqual(expect.arrayContaining(['write_file', 'bash']))
    // The conversation continues on a new sandbox.
    const more = await runScripted(
      w,
      [call('bash', { command: 'cat first.txt during.txt' }), { text: 'ok' }],
      { session: id },
    )
    expect(more.result.exitCode, show(more.result)).toBe(0)
    await afterFault(w, c, id)
  })

  gauntlet(
    backend,
    'out of memory inside the sandbox',
    async (w, c) => {
      // Grows a MiB at a time: the kernel's OOM killer must end it (a single 1 GiB request would
      // simply be refused in a VM with 256 MiB, and perl would exit on its own).
      const hog = `perl -e 'my @a; push @a, "a" x (1 << 20) while 1'`
      const r = await w.exec(`echo before-oom > before.txt; ${hog}`)
      expect(r.exitCode, show(r)).toBe(137)
      expect(r.stderr).not.toMatch(STACK_FRAME)
      const [last] = await w.log(r.id)
      expect(last?.trailers.Exit).toBe('137')
      const next = await w.exec('echo alive', { session: r.id })
      expect(next.stdout).toBe('alive')
      const agent = await runScripted(
        w,
        [
          call('bash', { command: hog }),
          call('bash', { command: 'echo alive-after > after.txt' }),
          { text: 'ok' },
        ],
        { session: r.id },
      )
      expect(agent.result.exitCode, show(agent.result)).toBe(0)
      expect(agent.summary?.toolCalls).toBe(2)
      c.note(
        `memory_mb = 128: the hog is OOM-killed (137) in exec and in the agent's bash; the sandbox and the turn go on`,
      )
      await afterFault(w, c, r.id, { commits: 3 })
    },
    { world: { userConfig: '[docker]\nmemory_mb = 128\n\n[vm]\nmem_size_mib = 256\n' } },
  )

  gauntlet(
    backend,
    'disk full in the state directory (a small tmpfs as XDG_STATE_HOME)',
    async (w, c) => {
      const state = w.stateHome
      await mkdir(state, { recursive: true })
      // The sandbox's disk lives in the state directory (a VM's drive, a container's mirror as
      // root) and needs room to fill up ([docker] disk_mb = [vm] disk_size_mib = 64 here).
      const size = isVm(w) ? '160m' : '100m'
      const mounted = await execa(
        'mount',
        ['-t', 'tmpfs', '-o', `size=${size}`, 'gauntlet-state', state],
        { reject: false },
      )
      expect(mounted.exitCode, mounted.stderr).toBe(0)
      w.onDispose(async () => {
        await execa('umount', ['-l', state], { reject: false })
      })
      // A project with a 5 MB file the session will change: sync must journal a copy of it.
      await execa('bash', [
        '-c',
        `head -c 5000000 /dev/urandom > ${JSON.stringify(path.join(w.project, 'big.bin'))}`,
      ])
      await w.rebaseProject()
      const first = await w.exec('head -c 5000000 /dev/urandom > big.bin; echo one > one.txt')
      expect(first.exitCode, show(first)).toBe(0)
      // Fill the disk, leaving about 2 MB.
      const free = async () => {
        const s = await statfs(state)
        return s.bavail * s.bsize
      }
      const filler = path.join(state, 'filler')
      await execa(
        'bash',
        ['-c', `head -c ${Math.max(0, (await free()) - 2_000_000)} /dev/zero > ${filler}`],
        { reject: false },
      )
      c.note(`${((await free()) / 1e6).toFixed(1)} MB left on the state tmpfs`)
      // Sync needs room for the journal copy of big.bin: it must fail before touching the project.
      const sync = await w.cli(['sync', first.id, '--yes'])
      say(c, `sync exit ${sync.exitCode}`, sync)
      expect(sync.exitCode).not.toBe(0)
      expect(sync.stderr).not.toMatch(STACK_FRAME)
      expect(sync.stderr).toMatch(/space|ENOSPC|full/i)
      expect(sync.stderr, 'a full disk is not a bug in Safe Coder').not.toMatch(/This is a bug/)
      // A command in the full state dir: it (or its commit) fails cleanly, naming the full
      // disk, and leaves no sandbox behind.
      const second = await w.exec('head -c 1500000 /dev/urandom > more.bin; echo two > two.txt', {
        session: first.id,
      })
      say(c, `exec exit ${second.exitCode}`, second)
      const orphans = await w.probe.leftovers(first.id, w.env)
      if (orphans.length > 0) c.note(`left running after the failed exec: ${orphans.join(', ')}`)
      expect(second.stderr).not.toMatch(STACK_FRAME)
      expect(second.exitCode).not.toBe(0)
      expect(second.stderr).toMatch(/space|ENOSPC|full/i)
      // Nothing is corrupt: the history reads, fsck passes (the case's host checks), and with
      // room again resume records whatever the mirror holds and sync applies exactly that.
      await rm(filler)
      await afterFault(w, c, first.id)
      const files = [...(await committedFiles(w, first.id)).keys()]
      expect(files).toEqual(expect.arrayContaining(['big.bin', 'one.txt']))
      // Then the messages: a full disk is not "a bug in Safe Coder", and no sandbox outlives
      // the command that failed.
      expect(second.stderr, 'a full disk is not a bug in Safe Coder').not.toMatch(/This is a bug/)
      expect(second.stderr).toMatch(/hint:/)
      expect(orphans, 'no sandbox left behind by the failed exec').toEqual([])
    },
    {
      timeoutMs: 300_000,
      world: { userConfig: '[docker]\ndisk_mb = 64\n\n[vm]\ndisk_size_mib = 64\n' },
    },
  )

  gauntlet(
    backend,
    'the engine (dockerd) restarted mid-session',
    async (w, c) => {
      const daemon = await privateDockerd(w)
      // Stopped after the host checks, which ask this daemon for leftovers.
      w.onDispose(() => daemon.dispose())
      {
        w.env = { ...w.env, DOCKER_HOST: daemon.host }
        const child = w.start(['exec', '--', 'bash', '-c', 'echo before > before.txt; sleep 600'])
        const id = await newSession(w)
        await waitUntil(
          'the command running',
          async () =>
            (await w.probe.running(id, w.env)) !== undefined &&
            existsSync(path.join(w.workDir(id), 'before.txt'))
              ? true
              : undefined,
          120_000,
        )
        await daemon.stop()
        const done = await child
        const stderr = String(done.stderr)
        c.note(
          `exec while dockerd stopped: exit ${done.exitCode ?? '?'}: ${stderr
            .split('\n')
            .filter((l) => /safe-coder: (?!session)/.test(l))
            .join(' ')
            .slice(0, 140)}`,
        )
        expect(stderr).not.toMatch(STACK_FRAME)
        expect([69, 70]).toContain(done.exitCode)
        const down = await w.cli(['sessions'])
        expect(down.exitCode, show(down)).toBe(0)
        const refused = await w.exec('true', { session: id })
        expect(refused.exitCode, show(refused)).toBe(69)
        await daemon.start()
        await afterFault(w, c, id)
      }
    },
    {
      fullOnly: true,
      timeoutMs: 600_000,
      // A VM backend has no engine to restart; its own host-side faults are the VMM kill above.
      requires: (b) => Promise.resolve(b === 'docker' ? undefined : 'Docker engine only'),
    },
  )
})

function committedFilesOfProject(w: World): Promise<Map<string, string>> {
  return projectFiles(w.project)
}

/**
 * A Docker daemon of the test's own, started the way scripts/provision starts the system one
 * (`nohup dockerd … >> log &`), with its own socket, data and exec roots and no bridge or
 * iptables, so stopping and restarting it disturbs no one else on the machine. The sandbox image
 * is copied in from the system daemon.
 */
async function privateDockerd(w: World): Promise<{
  host: string
  start(): Promise<void>
  stop(): Promise<void>
  dispose(): Promise<void>
}> {
  const root = path.join(w.root, 'dockerd')
  await mkdir(root, { recursive: true })
  // The socket path must fit sun_path; the data root must not be on a tmpfs for overlay2.
  const sock = path.join(root, 'd.sock')
  const host = `unix://${sock}`
  const pidfile = path.join(root, 'dockerd.pid')
  const log = path.join(root, 'dockerd.log')
  let pid: number | undefined
  const answers = async () =>
    (await execa('docker', ['-H', host, 'info'], { reject: false, timeout: 10_000 })).exitCode === 0
  const start = async () => {
    const script = `nohup dockerd -H ${host} --data-root ${root}/data --exec-root /run/sc-gauntlet-${path.basename(w.root)} --pidfile ${pidfile} --bridge none --iptables=false --ip-masq=false --ip-forward=false --cgroup-parent sc-gauntlet </dev/null >>${log} 2>&1 & echo $!`
    pid = Number((await execa('bash', ['-c', script])).stdout.trim())
    await waitUntil(
      'the private dockerd to answer',
      async () => ((await answers()) ? true : undefined),
      90_000,
      250,
    )
  }
  const stop = async () => {
    if (pid === undefined) return
    process.kill(pid, 'SIGTERM')
    const dead = pid
    await waitUntil(
      'the private dockerd to exit',
      () => (existsSync(`/proc/${dead}`) ? undefined : true),
      90_000,
      100,
    )
    pid = undefined
  }
  await start()
  const image = w.env.SAFE_CODER_IMAGE ?? 'safe-coder/sandbox:0.1.0'
  const copy = await execa('bash', ['-c', `docker save ${image} | docker -H ${host} load`], {
    reject: false,
  })
  if (copy.exitCode !== 0)
    throw new Error(`copying ${image} into the private dockerd failed: ${copy.stderr}`)
  return {
    host,
    start,
    stop,
    async dispose() {
      await execa('bash', ['-c', `docker -H ${host} ps -aq | xargs -r docker -H ${host} rm -f`], {
        reject: false,
      })
      await stop().catch(() => undefined)
      await execa('umount', ['-R', `${root}/data`], { reject: false })
      await rm(root, { recursive: true, force: true }).catch(() => undefined)
    },
  }
}
