import { describe, expect, it } from 'vitest'
import { keys } from '../../../helpers/tui-terminal.js'
import { openRig, statusLine } from './dashboard-fixture.js'

/** Resolves to 'done' if the dashboard has quit, else 'open'. */
async function state(done: Promise<void>): Promise<'done' | 'open'> {
  return Promise.race([
    done.then(() => 'done' as const),
    new Promise<'open'>((resolve) =>
      setImmediate(() => {
        resolve('open')
      }),
    ),
  ])
}

describe('quitting', () => {
  it('quits at once when nothing is unsynced', async () => {
    const rig = openRig()
    await rig.press('q')
    await rig.client.waitForCall('unsynced')
    await expect(rig.dashboard.done).resolves.toBeUndefined()
  })

  it('asks about unsynced work; keep resolves done and says where the work is', async () => {
    const rig = openRig({ sessions: ['/work/alpha', '/work/beta'] })
    rig.client.setUnsynced('s2', 3)
    const screen = await rig.press('q')
    expect(screen).toContain('1 session with unsynced work: beta. Quit how?')
    expect(screen).toContain('[k] keep all for later')
    expect(await state(rig.dashboard.done)).toBe('open')
    rig.term.type('k')
    await rig.dashboard.done
    expect(rig.client.callsOf('close')).toEqual([])
    await rig.term.flush()
    expect(rig.term.text()).toContain('Unsynced work stays on disk')
  })

  it('cancel stays, sync closes the sessions with sync before quitting', async () => {
    const rig = openRig()
    rig.client.setUnsynced('s1', 2)
    await rig.press('q')
    const screen = await rig.press('c')
    expect(screen).not.toContain('Quit how?')
    expect(await state(rig.dashboard.done)).toBe('open')
    await rig.press('q')
    await rig.press('s')
    await rig.dashboard.done
    expect(rig.client.callsOf('close')).toEqual([['s1', 'sync']])
  })

  it('Ctrl-C twice within a second quits at once, keeping everything', async () => {
    const rig = openRig()
    rig.client.setUnsynced('s1', 2)
    const screen = await rig.press(keys.ctrlC)
    expect(statusLine(screen)).toContain(
      'Ctrl-C again within 1 s quits now; all work stays on disk',
    )
    expect(await state(rig.dashboard.done)).toBe('open')
    rig.term.type(keys.ctrlC)
    await rig.dashboard.done
    expect(rig.client.callsOf('close')).toEqual([])
  })

  it('Ctrl-C works while typing and while a question is open', async () => {
    const rig = openRig()
    await rig.press('n')
    rig.term.type(keys.ctrlC + keys.ctrlC)
    await rig.dashboard.done
  })

  it('a failure inside restores the terminal and rejects done', async () => {
    const rig = openRig()
    await rig.screen()
    // A malformed event makes the reducer throw: the dashboard must not leave the terminal raw.
    const failed = expect(rig.dashboard.done).rejects.toThrow(TypeError)
    rig.bus.emit('agent.text', { sessionId: 's1', turnId: 't', text: null as unknown as string })
    await failed
    await rig.term.flush()
    expect(rig.term.text()).not.toContain('sessions')
  })

  it('quit() closes the dashboard and restores the terminal', async () => {
    const rig = openRig()
    await rig.screen()
    await rig.dashboard.quit()
    await rig.term.flush()
    // Back on the normal screen: the dashboard's frame is gone.
    expect(rig.term.text()).not.toContain('sessions')
    // Everything it subscribed to is released: later events draw nothing.
    const written = rig.written.length
    rig.client.playTurn('s1', 'after the end')
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(rig.written.length).toBe(written)
  })
})

describe('closing a session', () => {
  it('asks keep / sync / discard when it has unsynced work', async () => {
    const rig = openRig({ sessions: ['/work/alpha', '/work/beta'] })
    rig.client.setUnsynced('s1', 4)
    let screen = await rig.press('x')
    expect(screen).toContain('Close alpha? It has 4 changed files not synced to /work/alpha.')
    screen = await rig.press('d')
    expect(screen).toContain('Discard 4 changes for good?')
    screen = await rig.press('y')
    await rig.client.waitForCall('close')
    screen = await rig.screen()
    expect(rig.client.callsOf('close')).toEqual([['s1', 'discard']])
    expect(statusLine(screen)).toContain('1/1 beta')
    expect(screen).not.toContain('1 alpha')
    expect(statusLine(screen)).toContain('alpha closed')
  })

  it('asks a plain yes/no when nothing is unsynced', async () => {
    const rig = openRig()
    expect(await rig.press('x')).toContain('Close alpha? Its sandbox stops.')
    await rig.press('n')
    expect(rig.client.callsOf('close')).toEqual([])
  })
})

describe('approval requests', () => {
  it('ask y/n for the focused session and answer through the client', async () => {
    const rig = openRig()
    rig.bus.emit('approval.requested', {
      sessionId: 's1',
      requestId: 'r1',
      callId: 'c1',
      tool: 'bash',
      args: 'rm -rf build',
    })
    let screen = await rig.screen()
    expect(screen).toContain('alpha wants to run bash: rm -rf build')
    expect(screen).toContain('[y] yes')
    screen = await rig.press('y')
    expect(rig.client.callsOf('approve')).toEqual([['s1', 'r1', true]])
    expect(statusLine(screen)).toContain('bash allowed')
  })

  it('take the keys from the chat input', async () => {
    const rig = openRig()
    await rig.press('i')
    rig.bus.emit('approval.requested', {
      sessionId: 's1',
      requestId: 'r1',
      callId: 'c1',
      tool: 'write_file',
      args: 'a.txt',
    })
    expect(await rig.screen()).toContain('alpha wants to run write_file: a.txt')
    await rig.press('n')
    expect(rig.client.callsOf('approve')).toEqual([['s1', 'r1', false]])
    expect(rig.client.callsOf('prompt')).toEqual([])
  })

  it('interrupt typing, wait for their session, and Esc denies', async () => {
    const rig = openRig({ sessions: ['/work/alpha', '/work/beta'] })
    await rig.press('i')
    rig.bus.emit('approval.requested', {
      sessionId: 's2',
      requestId: 'r2',
      callId: 'c2',
      tool: 'bash',
      args: 'curl example.com',
    })
    let screen = await rig.screen()
    expect(statusLine(screen)).toContain('session 2 waits for your approval to run bash: press 2')
    expect(screen).not.toContain('wants to run')
    // Keys still go to the input; leave it, then switch.
    await rig.press(keys.escape)
    screen = await rig.press('2')
    expect(screen).toContain('beta wants to run bash: curl example.com')
    await rig.press(keys.escape)
    expect(rig.client.callsOf('approve')).toEqual([['s2', 'r2', false]])
  })
})
