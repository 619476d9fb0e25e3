import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { isolatedEnv, runBuilt } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'
import { spawnBuilt } from '../helpers/pty.js'
import { tempDir } from '../helpers/sandbox.js'

const ESC = '\x1b'
const README = '# Dashboard test\n\nSome text.\n'

async function project(name: string): Promise<string> {
  const dir = await tempDir(`sc-tui-${name}-`)
  await writeFile(path.join(dir, 'README.md'), README)
  return dir
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Leaves the chat input (if focused) so the next keys are commands, not text. */
async function command(run: ReturnType<typeof spawnBuilt>, keys: string): Promise<void> {
  run.type(ESC)
  await pause(150)
  run.type(keys)
}

describe('safe-coder tui in a real terminal (node-pty, built CLI, real Docker)', () => {
  it('chats, logs, graphs, records, reviews and syncs, over two sessions, down to 80×24', async () => {
    await requireDocker()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE, LANG: 'C.UTF-8' })
    const a = await project('a')
    const b = await project('b')
    const run = spawnBuilt(['tui', '--demo', '--path', a, '--path', b], { cwd: a, env })

    // The layout appears with both sessions.
    let screen = await run.waitFor(/sessions[\s\S]*chat[\s\S]*log[\s\S]*timeline/)
    screen = await run.waitFor(
      (s) => s.includes(path.basename(a).slice(0, 12)) && s.includes(path.basename(b).slice(0, 12)),
    )
    expect(screen).toMatch(/resources/)

    // A prompt streams a reply; tool lines, the process log and the timeline fill.
    run.type('i')
    await pause(100)
    run.type('hello\r')
    screen = await run.waitFor(/Done\. In the sandbox I:/)
    expect(screen).toMatch(/> edit_file README\.md\s+ok/)
    expect(screen).toMatch(/> write_file SAFE_CODER_DEMO\.md\s+ok/)
    screen = await run.waitFor(/timeline · 6 commits/)
    expect(screen).toMatch(/exit 0 in/)
    await run.waitFor(/1\/2 \S+ · docker · idle/)

    // A command that burns CPU for 4 s (several of the Engine's 1 s samples) shows in the gauges.
    run.type(
      'run end=$(($(date +%s)+4)); while [ $(date +%s) -lt $end ]; do :; done; echo burned\r',
    )
    await run.waitFor((s) => /cpu\s+(?!0\.0%)\d+\.\d%/.test(s), 30_000)
    await run.waitFor(/Finished \(exit code 0\): burned/, 60_000)

    // Help lists the bindings.
    await command(run, '?')
    screen = await run.waitFor(/help: every key/)
    expect(screen).toMatch(/\(session-next\)/)
    run.type('sync')
    screen = await run.waitFor(/\(review\.sync\)/)
    expect(screen).not.toMatch(/\(session-next\)/)
    run.type(ESC)
    await run.waitFor((s) => !s.includes('help: every key'))

    // Sessions switch.
    run.type(']')
    await run.waitFor(/2\/2 /)
    run.type('1')
    await run.waitFor(/1\/2 /)

    // 80×24 keeps every pane usable.
    run.resize(80, 24)
    screen = await run.waitFor(
      (s) => s.split('\n').length === 24 && /sessions/.test(s) && /chat/.test(s),
    )
    expect(screen).toMatch(/log/)
    expect(screen).toMatch(/timeline|commits/)
    run.resize(120, 36)

    // Review → sync changes the host exactly as planned.
    expect(await readFile(path.join(a, 'README.md'), 'utf8')).toBe(README)
    await command(run, 'd')
    screen = await run.waitFor(/review · whole session/)
    expect(screen).toMatch(/README\.md/)
    expect(screen).toMatch(/SAFE_CODER_DEMO\.md/)
    run.type('s')
    await run.waitFor(/apply \d+ changes? to/)
    run.type('y')
    await run.waitFor(/applied 2 changes/)
    const synced = await readFile(path.join(a, 'README.md'), 'utf8')
    expect(synced).toMatch(
      /^# Dashboard test\n\nSome text\.\n\n<!-- Reviewed in a Safe Coder sandbox/,
    )
    await readFile(path.join(a, 'SAFE_CODER_DEMO.md'), 'utf8')
    expect(await readFile(path.join(b, 'README.md'), 'utf8')).toBe(README)
    // Close whatever is open (the result, the review) until the panes are back.
    for (let i = 0; i < 3 && /review ·/.test(run.screen()); i++) {
      run.type(ESC)
      await pause(300)
    }
    await run.waitFor((s) => !/review ·/.test(s) && /log/.test(s))

    // q asks about unsynced work (session a still has the CPU command's log, b nothing): keep.
    await command(run, 'q')
    const question = await Promise.race([
      run.waitFor(/Quit how\?/).then(() => true),
      run.exited.then(() => false),
    ])
    if (question) run.type('k')
    expect(await run.exited).toBe(0)
  }, 180_000)

  it('shows a session that a separate `safe-coder exec` process is running', async () => {
    await requireDocker()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE, LANG: 'C.UTF-8' })
    const a = await project('own')
    const other = await project('exec')
    const run = spawnBuilt(['tui', '--demo', '--path', a], { cwd: a, env })
    await run.waitFor(/sessions[\s\S]*chat/)
    const exec = runBuilt(
      ['exec', '--project', other, '--', 'sh', '-c', 'echo from-the-other-process; sleep 8'],
      { cwd: other, env },
    )
    // The dashboard finds it through its event socket, with the command's output.
    await run.waitFor((s) => s.includes(path.basename(other).slice(0, 10)), 20_000)
    run.type(']')
    await run.waitFor(/from-the-other-process/, 20_000)
    expect((await exec).exitCode).toBe(0)

    // Work in the dashboard's own session, then quit: it asks, and "keep" keeps it.
    run.type('1')
    await run.waitFor(/1\/2 /)
    run.type('i')
    await pause(100)
    run.type('hello\r')
    await run.waitFor(/1\/2 \S+ · docker · idle · \+2 unsynced/, 30_000)
    await command(run, 'q')
    await run.waitFor(/Quit how\?/)
    run.type('k')
    expect(await run.exited).toBe(0)
    expect(await readFile(path.join(a, 'README.md'), 'utf8')).toBe(README)
    const sessions = await runBuilt(['sessions', '--json'], { env })
    expect(String(sessions.stdout)).toContain(a)
  }, 120_000)
})
