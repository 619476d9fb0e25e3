import { readdir, readFile, realpath, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { isolatedEnv, runBuilt } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'
import { spawnBuilt, type PtyRun } from '../helpers/pty.js'
import { tempDir } from '../helpers/sandbox.js'

const ESC = '\x1b'
const README = '# Dashboard test\n\nSome text.\n'

async function project(name: string): Promise<string> {
  const dir = await tempDir(`sc-tui-${name}-`)
  await writeFile(path.join(dir, 'README.md'), README)
  return dir
}

/**
 * Steps that wait on the sandbox wait for as long as it takes: on a loaded machine a step may take
 * long, while a step that cannot happen fails at once (the dashboard exits) or at the test's end.
 */
const untilShown = Number.POSITIVE_INFINITY

/** The host mirror of the session a dashboard or `exec` opened for `project`. */
async function mirrorOf(env: Record<string, string>, project: string): Promise<string> {
  const sessions = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder', 'sessions')
  const wanted = [project, await realpath(project)]
  for (const id of await readdir(sessions)) {
    const record = JSON.parse(
      await readFile(path.join(sessions, id, 'session.json'), 'utf8').catch(() => '{}'),
    ) as { projectPath?: string }
    if (wanted.includes(record.projectPath ?? '')) return path.join(sessions, id, 'work')
  }
  throw new Error(`no session for ${project} in ${sessions}`)
}

/** The status bar's hint while the chat input has the keys. */
const typing = /Enter send/

/**
 * Leaves the chat input (if focused) so the next keys are commands, not text. The keys follow
 * only once the dashboard has shown that it left: an Esc and a key that arrive together read as
 * one Alt-key.
 */
async function command(run: PtyRun, keys: string): Promise<void> {
  if (typing.test(run.screen())) {
    run.type(ESC)
    await run.waitFor((s) => !typing.test(s), untilShown)
  }
  run.type(keys)
}

/** Opens the chat input (once the dashboard shows it open) and types `text` into it. */
async function chat(run: PtyRun, text: string): Promise<void> {
  if (!typing.test(run.screen())) {
    run.type('i')
    await run.waitFor(typing, untilShown)
  }
  run.type(text)
}

/** Closes overlays with Esc, one at a time (each one redraws), until `done` holds. */
async function closeUntil(run: PtyRun, done: (screen: string) => boolean): Promise<void> {
  while (!done(run.screen())) {
    const before = run.screen()
    run.type(ESC)
    await run.waitFor((s) => s !== before, untilShown)
  }
}

// The tests' timeouts only catch a dashboard that hangs; they are no performance budget.
describe('safe-coder tui in a real terminal (node-pty, built CLI, real Docker)', () => {
  it('chats, logs, graphs, records, reviews and syncs, over two sessions, down to 80×24', async () => {
    await requireDocker()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE, LANG: 'C.UTF-8' })
    const a = await project('a')
    const b = await project('b')
    const run = spawnBuilt(['tui', '--demo', '--path', a, '--path', b], { cwd: a, env })

    // The layout appears with both sessions.
    let screen = await run.waitFor(/sessions[\s\S]*chat[\s\S]*log[\s\S]*timeline/, untilShown)
    screen = await run.waitFor(
      (s) => s.includes(path.basename(a).slice(0, 12)) && s.includes(path.basename(b).slice(0, 12)),
      untilShown,
    )
    expect(screen).toMatch(/resources/)

    // A prompt streams a reply; tool lines, the process log and the timeline fill.
    await chat(run, 'hello\r')
    screen = await run.waitFor(/Done\. In the sandbox I:/, untilShown)
    expect(screen).toMatch(/> edit_file README\.md\s+ok/)
    expect(screen).toMatch(/> write_file SAFE_CODER_DEMO\.md\s+ok/)
    screen = await run.waitFor(/timeline · 6 commits/, untilShown)
    expect(screen).toMatch(/exit 0 in/)
    await run.waitFor(/1\/2 \S+ · docker · idle/, untilShown)

    // A command that burns CPU shows in the gauges: idle first, then busy (at most one decimal:
    // "0.4%", "86%"), and the burner stops only once the gauge has shown it.
    await run.waitFor(/cpu\s+0\.0%/, untilShown)
    await chat(run, 'run while [ ! -e burn-stop ]; do :; done; rm burn-stop; echo burned\r')
    await run.waitFor((s) => /cpu\s+(?!0\.0%)\d+(\.\d)?%/.test(s), untilShown)
    await writeFile(path.join(await mirrorOf(env, a), 'burn-stop'), '')
    await run.waitFor(/Finished \(exit code 0\): burned/, untilShown)
    // Esc cancels a turn still in progress instead of leaving the input: wait until it is over.
    await run.waitFor(/1\/2 \S+ · docker · idle/, untilShown)

    // Help lists the bindings.
    await command(run, '?')
    screen = await run.waitFor(/help: every key/, untilShown)
    expect(screen).toMatch(/\(session-next\)/)
    run.type('sync')
    screen = await run.waitFor(/\(review\.sync\)/, untilShown)
    expect(screen).not.toMatch(/\(session-next\)/)
    run.type(ESC)
    await run.waitFor((s) => !s.includes('help: every key'), untilShown)

    // Sessions switch.
    run.type(']')
    await run.waitFor(/2\/2 /, untilShown)
    run.type('1')
    await run.waitFor(/1\/2 /, untilShown)

    // 80×24 keeps every pane usable.
    run.resize(80, 24)
    screen = await run.waitFor(
      (s) => s.split('\n').length === 24 && /sessions/.test(s) && /chat/.test(s),
      untilShown,
    )
    expect(screen).toMatch(/log/)
    expect(screen).toMatch(/timeline|commits/)
    run.resize(120, 36)

    // Review → sync changes the host exactly as planned.
    expect(await readFile(path.join(a, 'README.md'), 'utf8')).toBe(README)
    await command(run, 'd')
    // The review opens at once and fills when its diff has loaded.
    await run.waitFor(
      (s) =>
        /review · whole session/.test(s) && /README\.md/.test(s) && /SAFE_CODER_DEMO\.md/.test(s),
      untilShown,
    )
    run.type('s')
    await run.waitFor(/apply \d+ changes? to/, untilShown)
    run.type('y')
    await run.waitFor(/applied 2 changes/, untilShown)
    const synced = await readFile(path.join(a, 'README.md'), 'utf8')
    expect(synced).toMatch(
      /^# Dashboard test\n\nSome text\.\n\n<!-- Reviewed in a Safe Coder sandbox/,
    )
    await readFile(path.join(a, 'SAFE_CODER_DEMO.md'), 'utf8')
    expect(await readFile(path.join(b, 'README.md'), 'utf8')).toBe(README)
    // Close whatever is open (the result, the review) until the panes are back.
    await closeUntil(run, (s) => !/review ·/.test(s) && /log/.test(s))

    // q asks about unsynced work (session a still has the CPU command's log, b nothing): keep.
    await command(run, 'q')
    const question = await Promise.race([
      run.waitFor(/Quit how\?/, untilShown).then(() => true),
      run.exited.then(() => false),
    ])
    if (question) run.type('k')
    expect(await run.exited).toBe(0)
  }, 300_000)

  it('shows a session that a separate `safe-coder exec` process is running', async () => {
    await requireDocker()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE, LANG: 'C.UTF-8' })
    const a = await project('own')
    const other = await project('exec')
    const run = spawnBuilt(['tui', '--demo', '--path', a], { cwd: a, env })
    await run.waitFor(/sessions[\s\S]*chat/, untilShown)
    // The command runs until the dashboard has shown its output.
    const exec = runBuilt(
      [
        'exec',
        '--project',
        other,
        '--',
        'sh',
        '-c',
        'echo from-the-other-process; while [ ! -e seen ]; do sleep 0.1; done; rm seen',
      ],
      { cwd: other, env },
    )
    // The dashboard finds it through its event socket, with the command's output.
    await run.waitFor((s) => s.includes(path.basename(other).slice(0, 10)), untilShown)
    run.type(']')
    await run.waitFor(/from-the-other-process/, untilShown)
    await writeFile(path.join(await mirrorOf(env, other), 'seen'), '')
    expect((await exec).exitCode).toBe(0)

    // Work in the dashboard's own session, then quit: it asks, and "keep" keeps it.
    run.type('1')
    await run.waitFor(/1\/2 /, untilShown)
    await chat(run, 'hello\r')
    await run.waitFor(/1\/2 \S+ · docker · idle · \+2 unsynced/, untilShown)
    await command(run, 'q')
    await run.waitFor(/Quit how\?/, untilShown)
    run.type('k')
    expect(await run.exited).toBe(0)
    expect(await readFile(path.join(a, 'README.md'), 'utf8')).toBe(README)
    const sessions = await runBuilt(['sessions', '--json'], { env })
    expect(String(sessions.stdout)).toContain(a)
  }, 300_000)
})
