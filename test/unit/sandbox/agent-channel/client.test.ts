import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { encodeHeader, encodeJson, FrameKind, PROTOCOL } from '../../../../src/guest/protocol.js'
import { connectAgent } from '../../../../src/sandbox/agent-channel/client.js'
import type { AgentClient } from '../../../../src/sandbox/agent-channel/types.js'
import type { SafeCoderError } from '../../../../src/shared/errors.js'
import { keepFiles } from '../../../helpers/pull-receiver.js'
import { duplexPair, FakeAgent, HELLO, type Received } from './fake-agent.js'
import { failure } from '../../../helpers/failure.js'

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

async function connected(
  options: Parameters<typeof connectAgent>[1] = {},
  hello: object = HELLO,
): Promise<{ client: AgentClient; agent: FakeAgent; closes: (Error | undefined)[] }> {
  const [host, guest] = duplexPair()
  const agent = new FakeAgent(guest)
  agent.json(0, hello)
  const closes: (Error | undefined)[] = []
  const client = await connectAgent(host, { ...options, onClose: (e) => closes.push(e) })
  return { client, agent, closes }
}

/** What `op` fails with when the agent answers its request with `misbehave`. */
async function malformed(
  misbehave: (agent: FakeAgent, request: Received) => void,
  op: (client: AgentClient) => Promise<unknown> = (c) => c.stat('x'),
  hello: object = HELLO,
): Promise<{ error: SafeCoderError; closes: (Error | undefined)[]; client: AgentClient }> {
  const { client, agent, closes } = await connected({ maxFrameBytes: 64 * 1024 }, hello)
  agent.onRequest = (r, a) => {
    if (r.message?.op !== 'hello') misbehave(a, r)
  }
  const error = await failure(op(client))
  return { error, closes, client }
}

describe('agent client handshake', () => {
  it('takes the unsolicited hello and keeps the connection number to itself', async () => {
    const { client, agent } = await connected()
    expect(client.hello).toEqual({
      protocol: PROTOCOL,
      version: '9.9.9',
      kernel: '6.1.0-test',
      pid: 42,
      root: '/workspace',
      features: [],
    })
    // It also asked, in case the unsolicited hello was lost; the late answer (sent by the fake
    // agent) is ignored, as is a repeated unsolicited hello of the same connection.
    const asked = await agent.request('hello')
    expect(asked.message).toMatchObject({ protocol: PROTOCOL, maxFrameBytes: 1024 * 1024 })
    agent.json(0, HELLO)
    const listing = client.list('.')
    const req = await agent.request('list')
    agent.json(req.id, { ok: true, entries: [] })
    expect(await listing).toEqual([])
    expect(client.closed).toBe(false)
  })

  it('re-sends hello every 500 ms until one is answered (early bytes lost under QEMU)', async () => {
    const [host, guest] = duplexPair()
    const agent = new FakeAgent(guest)
    const seen: number[] = []
    agent.onRequest = (r, a) => {
      if (r.message?.op !== 'hello') return
      seen.push(Date.now())
      if (seen.length === 2) a.json(r.id, { ok: true, ...HELLO })
    }
    const started = Date.now()
    const client = await connectAgent(host)
    expect(seen).toHaveLength(2)
    expect((seen[1] as number) - started).toBeGreaterThanOrEqual(450)
    expect(client.hello.pid).toBe(42)
    client.close()
  })

  it('skips console noise and stale frames before the hello', async () => {
    const [host, guest] = duplexPair()
    const agent = new FakeAgent(guest)
    agent.raw(Buffer.from('[    0.000000] Linux version 6.1\r\n\x00\xff'))
    agent.json(77, { ok: true, exitCode: 0 }) // a reply meant for a previous host
    agent.json(0, HELLO)
    const client = await connectAgent(host)
    expect(client.hello.kernel).toBe('6.1.0-test')
  })

  it('times out naming what arrived instead of a hello', async () => {
    const [host, guest] = duplexPair()
    const agent = new FakeAgent(guest)
    agent.onRequest = () => undefined
    agent.raw(Buffer.from('login: '))
    const error = await failure(connectAgent(host, { helloTimeoutMs: 300 }))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toBe(
      'The sandbox agent did not say hello within 300 ms (it sent 7 bytes that are not a hello, starting "login: ").',
    )
    const silent = duplexPair()
    new FakeAgent(silent[1]).onRequest = () => undefined
    expect((await failure(connectAgent(silent[0], { helloTimeoutMs: 200 }))).message).toMatch(
      /within 200 ms \(it sent nothing\)/,
    )
  })

  it('refuses an agent that speaks another protocol, naming its version', async () => {
    const [host, guest] = duplexPair()
    new FakeAgent(guest).json(0, { ...HELLO, protocol: PROTOCOL + 1, version: '2.0.0' })
    const error = await failure(connectAgent(host))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toContain(
      `speaks protocol ${PROTOCOL + 1} (agent 2.0.0 on Linux 6.1.0-test)`,
    )
    expect(error.hint).toMatch(/image build/)
  })

  it('fails when the channel closes before the hello, naming what came instead', async () => {
    const [host, guest] = duplexPair()
    const agent = new FakeAgent(guest)
    agent.onRequest = () => undefined
    agent.raw(Buffer.from('sh: node: not found\n'))
    setTimeout(() => guest.end(), 50)
    const error = await failure(connectAgent(host))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toBe(
      'The sandbox agent closed the channel before saying hello (it sent 20 bytes that are not a hello, starting "sh: node: not found\\x0a"; The sandbox agent went away: the channel closed).',
    )
  })
})

describe('agent client against a hostile agent', () => {
  it('closes on an oversized frame, failing what was pending, without throwing anywhere', async () => {
    const { error, closes, client } = await malformed((a) => {
      a.raw(encodeHeader(FrameKind.stdout, 1, 64 * 1024 + 1))
    })
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(
      /^The sandbox agent sent a malformed frame: a frame of 65537 bytes/,
    )
    expect(closes).toEqual([error])
    expect(client.closed).toBe(true)
    // Later calls fail the same way, at once.
    expect((await failure(client.stat('y'))).message).toBe(error.message)
  })

  it('closes on frames for requests that are not pending, unknown kinds and bad JSON', async () => {
    const cases: ((agent: FakeAgent, r: Received) => void)[] = [
      (a, r) => {
        a.json(r.id + 1000, { ok: true })
      },
      (a, r) => {
        a.raw(Buffer.concat([encodeHeader(9 as FrameKind, r.id, 0)]))
      },
      (a, r) => {
        a.data(FrameKind.json, r.id, Buffer.from('{"ok": tru'))
      },
      (a, r) => {
        a.json(r.id, { neither: 'final nor partial' })
      },
      (a, r) => {
        a.data(FrameKind.file, r.id, Buffer.from('data for a stat'))
      },
      (a) => {
        a.json(0, { op: 'surprise' })
      },
    ]
    for (const misbehave of cases) {
      const { error } = await malformed(misbehave)
      expect(error.code).toBe('SANDBOX_FAILED')
      expect(error.message).toMatch(/malformed frame/)
    }
  })

  it('refuses replies with fields of the wrong type', async () => {
    const { error } = await malformed((a, r) => {
      a.json(r.id, { ok: true, mode: 'rwx', size: 1, mtimeMs: 0 })
    })
    expect(error.message).toMatch(/the mode of a stat is not an integer/)
    const list = await malformed(
      (a, r) => {
        a.json(r.id, { ok: true, entries: [['../escape', 0o100644, 1]] })
      },
      (c) => c.list('.'),
    )
    expect(list.error.message).toMatch(/is not a file name/)
  })

  it('refuses change sets naming paths outside the root', async () => {
    for (const path of ['../etc/passwd', '/etc/passwd', 'a//b', 'a/./b', '', 'x\0y']) {
      const { error } = await malformed(
        (a, r) => {
          a.json(r.id, { ok: true, changes: [{ path, kind: 'deleted' }], skipped: [] })
        },
        (c) => c.changes(),
      )
      expect(error.code).toBe('SANDBOX_FAILED')
    }
    const badSha = await malformed(
      (a, r) => {
        a.json(r.id, {
          ok: true,
          changes: [{ path: 'f', kind: 'file', mode: 0o644, size: 1, sha256: 'nope' }],
        })
      },
      (c) => c.changes(),
    )
    expect(badSha.error.message).toMatch(/sha256 of f is not a sha256/)
  })

  it('verifies pulled files: asked-for path, size, byte count and sha256', async () => {
    const data = Buffer.from('content')
    const header = { path: 'a.txt', mode: 0o644, size: data.length, sha256: sha(data) }
    const cases: [string, (a: FakeAgent, r: Received) => void][] = [
      [
        'not asked for',
        (a, r) => {
          a.json(r.id, { more: true, file: { ...header, path: 'b.txt' } })
        },
      ],
      [
        'not a relative path',
        (a, r) => {
          a.json(r.id, { more: true, file: { ...header, path: '../a.txt' } })
        },
      ],
      [
        'does not match its sha256',
        (a, r) => {
          a.json(r.id, { more: true, file: { ...header, sha256: sha(Buffer.from('other')) } })
          a.data(FrameKind.file, r.id, data)
        },
      ],
      [
        'more than the 7 bytes',
        (a, r) => {
          a.json(r.id, { more: true, file: header })
          a.data(FrameKind.file, r.id, Buffer.concat([data, data]))
        },
      ],
      [
        'ended inside',
        (a, r) => {
          a.json(r.id, { more: true, file: header })
          a.data(FrameKind.file, r.id, data.subarray(0, 3))
          a.json(r.id, { ok: true, missing: [], tooLarge: [] })
        },
      ],
      [
        'the size of a.txt is not an integer in [0, 64]',
        (a, r) => {
          a.json(r.id, { more: true, file: { ...header, size: 65 } })
        },
      ],
      [
        'file data outside a pulled file',
        (a, r) => {
          a.data(FrameKind.file, r.id, data)
        },
      ],
    ]
    for (const [why, misbehave] of cases) {
      const { error } = await malformed(misbehave, (c) =>
        c.pull(['a.txt'], keepFiles().receive, { maxFileBytes: 64 }),
      )
      expect(error.code, why).toBe('SANDBOX_FAILED')
      expect(error.message, why).toContain(why)
    }
    // The honest agent, for contrast.
    const { client, agent } = await connected()
    agent.onRequest = (r, a) => {
      if (r.message?.op !== 'pull') return
      a.json(r.id, { more: true, file: header })
      a.data(FrameKind.file, r.id, data.subarray(0, 2))
      a.data(FrameKind.file, r.id, data.subarray(2))
      a.json(r.id, { ok: true, missing: [], tooLarge: [] })
    }
    const kept = keepFiles()
    expect(await client.pull(['a.txt'], kept.receive)).toEqual({ pulled: 1, missing: [] })
    expect(kept.files.map((f) => f.data.toString())).toEqual(['content'])
  })

  it('refuses a read longer than asked or not matching its size', async () => {
    const long = await malformed(
      (a, r) => {
        a.data(FrameKind.file, r.id, Buffer.alloc(10))
      },
      (c) => c.readFile('f', { maxBytes: 5 }),
    )
    expect(long.error.message).toMatch(/more than the 5 bytes asked for/)
    const lying = await malformed(
      (a, r) => {
        a.data(FrameKind.file, r.id, Buffer.alloc(3))
        a.json(r.id, { ok: true, size: 4 })
      },
      (c) => c.readFile('f'),
    )
    expect(lying.error.message).toMatch(/a read of 3 bytes that claims 4/)
    expect(lying.client.closed).toBe(true)
  })

  it('fails pending requests with SANDBOX_GONE when the channel goes, and when the agent resets', async () => {
    const { client, agent, closes } = await connected()
    agent.onRequest = () => undefined
    const pending = client.stat('x')
    await agent.request('stat')
    agent.stream.end()
    const error = await failure(pending)
    expect(error.code).toBe('SANDBOX_GONE')
    expect(closes[0]).toBe(error)

    const second = await connected()
    second.agent.onRequest = () => undefined
    const lost = second.client.mark()
    await second.agent.request('mark')
    second.agent.json(0, { ...HELLO, connection: 2 })
    expect((await failure(lost)).message).toMatch(/restarted its channel/)
  })

  it('reports a protocol error the agent saw in what the host sent', async () => {
    const { error } = await malformed((a) => {
      a.json(0, { op: 'error', code: 'PROTOCOL', message: 'bad\nframe' })
    })
    expect(error.message).toBe('The sandbox agent reported a protocol error: bad frame.')
  })
})

describe('agent client requests', () => {
  it('maps agent errors to the Docker backend messages', async () => {
    const { client, agent } = await connected()
    agent.onRequest = (r, a) => {
      const code = {
        read: 'OUTSIDE',
        stat: 'MISSING',
        list: 'WRONG_KIND',
        write: 'NOT_DIR',
        mark: 'FAILED',
      }[r.message?.op as string]
      if (code !== undefined) a.json(r.id, { ok: false, code, message: 'EIO: i/o error' })
    }
    const read = await failure(client.readFile('etc-link/passwd'))
    expect([read.code, read.message]).toEqual([
      'PATH_REJECTED',
      'Cannot read "etc-link/passwd" in the sandbox: it resolves to a place outside /workspace.',
    ])
    const stat = await failure(client.stat('nope'))
    expect([stat.code, stat.message]).toEqual([
      'NOT_FOUND',
      'Cannot stat "nope" in the sandbox: no such file or directory.',
    ])
    const list = await failure(client.list('file'))
    expect([list.code, list.message]).toEqual([
      'PATH_REJECTED',
      'Cannot list "file" in the sandbox: not a directory.',
    ])
    expect((await failure(client.writeFile('f/x', Buffer.from('x')))).code).toBe('PATH_REJECTED')
    const mark = await failure(client.mark())
    expect([mark.code, mark.message]).toEqual([
      'SANDBOX_FAILED',
      'Cannot mark the workspace: EIO: i/o error (FAILED).',
    ])
    // Paths are checked before anything is sent.
    expect((await failure(client.readFile('../../etc/passwd'))).code).toBe('PATH_REJECTED')
    expect((await failure(client.writeFile('/workspace', Buffer.from('x')))).code).toBe(
      'PATH_REJECTED',
    )
    expect((await failure(client.exec({ command: 'true', cwd: '../..' }))).code).toBe(
      'PATH_REJECTED',
    )
    expect(agent.received.filter((r) => r.message?.path === '../../etc/passwd')).toEqual([])
  })

  it('sends writes as a header, file frames and an end, with setuid/setgid stripped', async () => {
    const { client, agent } = await connected()
    agent.onRequest = (r, a) => {
      if (r.message?.op === 'end') a.json(r.id, { ok: true })
    }
    const data = Buffer.alloc(600 * 1024, 1)
    await client.writeFile('/workspace/dir/f.bin', data, { mode: 0o6755 })
    const request = agent.received.find((r) => r.message?.op === 'write') as Received
    expect(request.message).toEqual({
      op: 'write',
      path: 'dir/f.bin',
      size: data.length,
      mode: 0o755,
    })
    const frames = agent.received.filter((r) => r.id === request.id && r.kind === FrameKind.file)
    expect(frames.map((f) => f.payload.length)).toEqual([256 * 1024, 256 * 1024, 88 * 1024])
    expect(Buffer.concat(frames.map((f) => f.payload)).equals(data)).toBe(true)
  })

  it('streams exec output, caps what it keeps, sends stdin and kills on abort', async () => {
    const { client, agent } = await connected()
    const controller = new AbortController()
    agent.onRequest = (r, a) => {
      if (r.message?.op === 'exec') {
        a.data(FrameKind.stdout, r.id, Buffer.from('0123456789'))
        a.data(FrameKind.stderr, r.id, Buffer.from('warn'))
        a.data(FrameKind.stdout, r.id, Buffer.from('abcdef'))
      }
      if (r.message?.op === 'end') controller.abort()
      if (r.message?.op === 'kill')
        a.json(r.id, { ok: true, exitCode: 137, signal: 'SIGKILL', timedOut: false })
    }
    const streamed: string[] = []
    const result = await client.exec(
      {
        command: 'cat; sleep 100',
        stdin: 'input',
        maxOutputBytes: 12,
        user: { uid: 1000, gid: 1000 },
      },
      {
        signal: controller.signal,
        onStdout: (c) => {
          streamed.push(Buffer.from(c).toString())
          throw new Error('a throwing listener does not break the channel')
        },
      },
    )
    expect(result).toMatchObject({
      exitCode: 137,
      stdout: '0123456789ab',
      stderr: 'warn',
      aborted: true,
      timedOut: false,
      truncatedBytes: 4,
    })
    expect(streamed.join('')).toBe('0123456789abcdef')
    const exec = agent.received.find((r) => r.message?.op === 'exec') as Received
    expect(exec.message).toEqual({
      op: 'exec',
      argv: ['/bin/sh', '-c', 'cat; sleep 100'],
      cwd: '',
      env: {},
      stdin: true,
      user: { uid: 1000, gid: 1000 },
    })
    const stdin = agent.received.filter((r) => r.id === exec.id && r.kind === FrameKind.stdin)
    expect(Buffer.concat(stdin.map((r) => r.payload)).toString()).toBe('input')
    expect(client.closed).toBe(false)
  })

  it('streams stdin within the window the agent acknowledges, then ends it', async () => {
    const { client, agent } = await connected({}, { ...HELLO, features: ['stdin-acks'] })
    const chunk = 512 * 1024
    let taken = 0
    async function* input(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 8; i++) {
        taken++
        yield await Promise.resolve(Buffer.alloc(chunk, i))
      }
    }
    const stdinBytes = (id: number): number =>
      agent.received
        .filter((r) => r.id === id && r.kind === FrameKind.stdin)
        .reduce((sum, r) => sum + r.payload.length, 0)
    const running = client.exec({ command: ['wc', '-c'], stdin: input() })
    const exec = await agent.request('exec')
    expect(exec.message).toMatchObject({ stdin: true, stdinAcks: true })
    // Past the 1 MiB window it waits: three chunks out, none taken beyond them.
    await agent.next(() => stdinBytes(exec.id) === 3 * chunk)
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(taken).toBe(3)
    // Each acknowledgement makes room for more.
    agent.json(exec.id, { more: true, stdinAck: 2 * chunk })
    await agent.next(() => stdinBytes(exec.id) === 5 * chunk)
    agent.json(exec.id, { more: true, stdinAck: 3 * chunk })
    await agent.next(() => stdinBytes(exec.id) === 8 * chunk)
    // The last chunk is out too, but the end waits for room like any chunk would.
    agent.json(exec.id, { more: true, stdinAck: 3 * chunk })
    const end = await agent.next((r) => r.id === exec.id && r.message?.op === 'end')
    expect(stdinBytes(end.id)).toBe(8 * chunk)
    expect(taken).toBe(8)
    agent.json(exec.id, { ok: true, exitCode: 0, signal: null, timedOut: false })
    expect((await running).exitCode).toBe(0)
  })

  it('closes the channel on an acknowledgement of stdin never sent', async () => {
    const { client, agent } = await connected({}, { ...HELLO, features: ['stdin-acks'] })
    async function* input(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(Buffer.from('abc'))
      await new Promise(() => undefined)
    }
    const running = failure(client.exec({ command: ['cat'], stdin: input() }))
    const exec = await agent.request('exec')
    await agent.next((r) => r.id === exec.id && r.kind === FrameKind.stdin)
    agent.json(exec.id, { more: true, stdinAck: 4 })
    expect((await running).code).toBe('SANDBOX_FAILED')
    expect(client.closed).toBe(true)
  })

  it('collects chunked listings and change sets, and pulls in acknowledged order', async () => {
    const { client, agent } = await connected()
    const content = (p: string) => Buffer.from(`content of ${p}`)
    let pullId = -1
    const send = (p: string): void => {
      const data = content(p)
      agent.json(pullId, {
        more: true,
        file: { path: p, mode: 0o600, size: data.length, sha256: sha(data) },
      })
      agent.data(FrameKind.file, pullId, data)
    }
    agent.onRequest = (r, a) => {
      const op = r.message?.op
      if (op === 'list') {
        a.json(r.id, { more: true, entries: [['b', 0o100644, 1]] })
        a.json(r.id, { ok: true, entries: [['a', 0o40755, 4096]] })
      } else if (op === 'changes') {
        expect(r.message?.maxFileBytes).toBe(64 * 1024 * 1024)
        a.json(r.id, { more: true, changes: [{ path: 'd', kind: 'dir', mode: 0o755 }] })
        a.json(r.id, { more: true, skipped: [{ path: 'bad-\\xff', reason: 'not UTF-8' }] })
        a.json(r.id, {
          ok: true,
          changes: [{ path: 'l', kind: 'symlink', target: 'd' }],
          skipped: [],
        })
      } else if (op === 'pull') {
        // One file, then the next only once the first was acknowledged (the agent's window).
        pullId = r.id
        send('x/1')
      } else if (op === 'ack' && r.id === pullId) {
        send('x/2')
        a.json(r.id, { ok: true, missing: ['gone'], tooLarge: [] })
      }
    }
    expect(await client.list('.')).toEqual([
      { name: 'a', kind: 'dir', size: 4096, mode: 0o755 },
      { name: 'b', kind: 'file', size: 1, mode: 0o644 },
    ])
    expect(await client.changes()).toEqual({
      changes: [
        { path: 'd', kind: 'dir', mode: 0o755 },
        { path: 'l', kind: 'symlink', target: 'd' },
      ],
      skipped: [{ path: 'bad-\\xff', reason: 'not UTF-8' }],
    })
    const kept = keepFiles(() => new Promise((resolve) => setTimeout(resolve, 5)))
    const result = await client.pull(['x/1', 'gone', 'x/2'], kept.receive)
    expect(result).toEqual({ pulled: 2, missing: ['gone'] })
    expect(kept.files.map((f) => `${f.path}:${f.mode.toString(8)}:${f.data.toString()}`)).toEqual([
      'x/1:600:content of x/1',
      'x/2:600:content of x/2',
    ])
  })

  it('streams pulled files (stream-pull): sha256 after the bytes, a file that changed dropped', async () => {
    const { client, agent } = await connected({}, { ...HELLO, features: ['stream-pull'] })
    const data = Buffer.from('streamed content')
    let acks = 0
    agent.onRequest = (r, a) => {
      // Each file, kept or dropped, is acknowledged; the reply waits for both, as flow control.
      if (r.message?.op === 'ack' && ++acks === 2)
        a.json(r.id, { ok: true, missing: [], tooLarge: [] })
      if (r.message?.op !== 'pull') return
      expect(r.message).toMatchObject({ stream: true, maxFileBytes: 1024 })
      a.json(r.id, { more: true, file: { path: 'a', mode: 0o640, size: data.length } })
      a.data(FrameKind.file, r.id, data.subarray(0, 5))
      a.data(FrameKind.file, r.id, data.subarray(5))
      a.json(r.id, { more: true, fileEnd: { sha256: sha(data) } })
      a.json(r.id, { more: true, file: { path: 'b', mode: 0o644, size: 100 } })
      a.data(FrameKind.file, r.id, data)
      a.json(r.id, { more: true, fileEnd: { changed: true } })
    }
    const kept = keepFiles()
    expect(await client.pull(['a', 'b'], kept.receive, { maxFileBytes: 1024 })).toEqual({
      pulled: 1,
      missing: [],
    })
    expect(kept.files).toEqual([{ path: 'a', mode: 0o640, size: data.length, data }])
    expect(kept.discarded).toEqual(['b'])
    // The bytes must add up to the size before the end, and match the sha256 after them.
    for (const [why, end] of [
      ['after 5 of its 16 bytes', () => ({ sha256: sha(data) })],
      ['does not match its sha256', () => ({ sha256: sha(Buffer.from('other')) })],
    ] as const) {
      const { error } = await malformed(
        (a, r) => {
          a.json(r.id, { more: true, file: { path: 'a', mode: 0o644, size: data.length } })
          a.data(FrameKind.file, r.id, why.startsWith('after') ? data.subarray(0, 5) : data)
          a.json(r.id, { more: true, fileEnd: end() })
        },
        (c) => c.pull(['a'], keepFiles().receive),
        { ...HELLO, features: ['stream-pull'] },
      )
      expect(error.message, why).toContain(why)
    }
  })

  it('takes files over the cap as too-large changes only when it asked for them', async () => {
    const { client, agent } = await connected({}, { ...HELLO, features: ['stream-pull'] })
    agent.onRequest = (r, a) => {
      if (r.message?.op !== 'changes') return
      expect(r.message).toMatchObject({ maxFileBytes: 100, reportTooLarge: true })
      a.json(r.id, {
        ok: true,
        changes: [{ path: 'big', kind: 'too-large', mode: 0o600, size: 101 }],
      })
    }
    expect((await client.changes({ maxFileBytes: 100 })).changes).toEqual([
      { path: 'big', kind: 'too-large', mode: 0o600, size: 101 },
    ])
    const under = await malformed(
      (a, r) => {
        a.json(r.id, {
          ok: true,
          changes: [{ path: 'b', kind: 'too-large', mode: 0o600, size: 5 }],
        })
      },
      (c) => c.changes({ maxFileBytes: 100 }),
      { ...HELLO, features: ['stream-pull'] },
    )
    expect(under.error.message).toMatch(/too-large change of 5 bytes under the 100-byte cap/)
    const unasked = await malformed(
      (a, r) => {
        a.json(r.id, {
          ok: true,
          changes: [{ path: 'b', kind: 'too-large', mode: 0o600, size: 500 }],
        })
      },
      (c) => c.changes({ maxFileBytes: 100 }),
    )
    expect(unasked.error.code).toBe('SANDBOX_FAILED')
  })

  it('refuses requests that cannot fit a frame', async () => {
    const { client } = await connected()
    const error = await failure(client.exec({ command: 'x'.repeat(2 * 1024 * 1024) }))
    expect(error.code).toBe('USAGE')
    expect(client.closed).toBe(false)
  })

  it('returns at once for an exec whose signal already fired, and rejects ops after close', async () => {
    const { client, closes } = await connected()
    const controller = new AbortController()
    controller.abort()
    expect(await client.exec({ command: 'true' }, { signal: controller.signal })).toMatchObject({
      exitCode: null,
      aborted: true,
    })
    client.close()
    expect(closes).toEqual([undefined])
    expect((await failure(client.stats())).code).toBe('SANDBOX_GONE')
  })

  it('parses the raw bytes of encodeJson the same as the agent would', () => {
    expect(encodeJson(1, { a: 1 }).subarray(9).toString()).toBe('{"a":1}')
  })
})
