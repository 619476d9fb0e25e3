import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { lstat, mkdir, open, readFile, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { Duplex } from 'node:stream'
import tty from 'node:tty'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { encodeHeader, FrameKind } from '../../src/guest/protocol.js'
import { connectAgent } from '../../src/sandbox/agent-channel/client.js'
import { receiveIntoMirror } from '../../src/sandbox/microvm/mirror-file.js'
import type { AgentClient } from '../../src/sandbox/agent-channel/types.js'
import { isSafeCoderError } from '../../src/shared/errors.js'
import { keepFiles } from '../helpers/pull-receiver.js'
import { tempDir } from '../helpers/sandbox.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const agentMain = path.join(repo, 'dist/guest/main.js')

/** Builds dist/ when the agent is missing or older than its sources. */
beforeAll(() => {
  const sources = readdirSync(path.join(repo, 'src/guest')).map((f) =>
    statSync(path.join(repo, 'src/guest', f)),
  )
  const newest = Math.max(...sources.map((s) => s.mtimeMs))
  if (existsSync(agentMain) && statSync(agentMain).mtimeMs >= newest) return
  execFileSync(
    process.execPath,
    [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: repo,
      stdio: 'inherit',
    },
  )
}, 180_000)

interface Running {
  client: AgentClient
  child: ChildProcess
  root: string
  stderr: () => string
  exited: Promise<number | null>
  closes: (Error | undefined)[]
}

async function startAgent(): Promise<Running> {
  const root = await tempDir('safe-coder-agent-root-')
  const child = spawn(process.execPath, [agentMain, '--stdio', '--root', root], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code)
    }),
  )
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const stream = Duplex.from({ readable: child.stdout, writable: child.stdin })
  const closes: (Error | undefined)[] = []
  const client = await connectAgent(stream, { onClose: (e) => closes.push(e) })
  return { client, child, root, stderr: () => stderr, exited, closes }
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    return isSafeCoderError(error) ? error.code : `unexpected: ${String(error)}`
  }
}

/** Processes whose command line matches (the test runs in the agent's pid namespace). */
function processesMatching(pattern: RegExp): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
      if (pattern.test(cmdline)) found.push(`${pid} ${cmdline}`)
    } catch {
      // gone
    }
  }
  return found
}

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return check()
}

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

describe('guest agent over stdio: exec', () => {
  it('reports exit codes, stderr, env, cwd and stdin like the Docker backend', async () => {
    const { client, root, stderr } = await startAgent()
    expect(client.hello).toMatchObject({
      protocol: 1,
      root,
      kernel: execFileSync('uname', ['-r']).toString().trim(),
    })
    await client.exec({ command: ['mkdir', '-p', 'sub/dir'] })
    const chunks: string[] = []
    const result = await client.exec(
      {
        command: 'pwd; echo "$GREETING"; cat; echo oops >&2; exit 7',
        cwd: 'sub/dir',
        env: { GREETING: 'hello' },
        stdin: 'piped',
      },
      { onStdout: (c) => chunks.push(Buffer.from(c).toString()) },
    )
    expect(result).toMatchObject({
      exitCode: 7,
      stdout: `${root}/sub/dir\nhello\npiped`,
      stderr: 'oops\n',
      timedOut: false,
      aborted: false,
      truncatedBytes: 0,
    })
    expect(chunks.join('')).toBe(result.stdout)
    expect((await client.exec({ command: ['echo', '$HOME; rm -rf /'] })).stdout).toBe(
      '$HOME; rm -rf /\n',
    )
    // No stdin: /dev/null, so `cat` ends at once.
    expect((await client.exec({ command: 'cat; echo done' })).stdout).toBe('done\n')
    expect(await client.exec({ command: 'kill -TERM $$' })).toMatchObject({ exitCode: 143 })
    expect(await client.exec({ command: ['no-such-command', 'x'] })).toMatchObject({
      exitCode: 127,
      stderr: 'exec: "no-such-command": executable file not found in $PATH\n',
    })
    // The working directory is confined like every other path.
    await symlink('/etc', path.join(root, 'etc-link'))
    await writeFile(path.join(root, 'file'), 'x')
    expect(await codeOf(client.exec({ command: 'true', cwd: 'etc-link' }))).toBe('PATH_REJECTED')
    expect(await codeOf(client.exec({ command: 'true', cwd: 'file' }))).toBe('PATH_REJECTED')
    expect(await codeOf(client.exec({ command: 'true', cwd: 'missing' }))).toBe('NOT_FOUND')
    expect(await codeOf(client.exec({ command: 'true', cwd: '../..' }))).toBe('PATH_REJECTED')
    expect(stderr()).not.toMatch(/internal error/)
  })

  it('switches to the requested uid/gid only when the agent runs as root', async () => {
    const { client } = await startAgent()
    const result = await client.exec({ command: 'id -u; id -g', user: { uid: 65534, gid: 65534 } })
    const expected =
      process.getuid?.() === 0 ? '65534\n65534\n' : `${process.getuid?.()}\n${process.getgid?.()}\n`
    expect(result.stdout).toBe(expected)
  })

  it('round-trips 1 MiB of binary stdin to stdout', async () => {
    const { client } = await startAgent()
    const input = randomBytes(1024 * 1024)
    const out: Buffer[] = []
    const result = await client.exec(
      { command: ['cat'], stdin: input },
      { onStdout: (c) => out.push(Buffer.from(c)) },
    )
    expect(result.exitCode).toBe(0)
    expect(sha(Buffer.concat(out))).toBe(sha(input))
    const summed = await client.exec({ command: ['sha256sum'], stdin: input })
    expect(summed.stdout.split(' ')[0]).toBe(sha(input))
  })

  it('kills the whole process tree on timeout, setsid daemons included', async () => {
    const { client } = await startAgent()
    const started = Date.now()
    const result = await client.exec({
      command: 'setsid sh -c "sleep 1717" & (sleep 1718 &) ; sleep 1719',
      timeoutMs: 1000,
    })
    expect(result.timedOut).toBe(true)
    expect(result.exitCode).toBe(137)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(await eventually(() => processesMatching(/^sleep 171[789]$/).length === 0)).toBe(true)
  })

  it('cancels on abort and returns what was printed so far', async () => {
    const { client } = await startAgent()
    const controller = new AbortController()
    const result = await client.exec(
      { command: 'echo before; sleep 1720' },
      {
        signal: controller.signal,
        onStdout: () => {
          controller.abort()
        },
      },
    )
    expect(result).toMatchObject({ aborted: true, stdout: 'before\n', timedOut: false })
    expect(await eventually(() => processesMatching(/^sleep 1720$/).length === 0)).toBe(true)
  })

  it('caps an output flood in memory and says how much was dropped', async () => {
    const { client } = await startAgent()
    const total = 100 * 1024 * 1024
    let streamed = 0
    const result = await client.exec(
      { command: `head -c ${total} /dev/zero`, maxOutputBytes: 1024 * 1024 },
      { onStdout: (c) => (streamed += c.length) },
    )
    expect(result.exitCode).toBe(0)
    expect(result.stdout.length).toBe(1024 * 1024)
    expect(result.truncatedBytes).toBe(total - 1024 * 1024)
    expect(streamed).toBe(total)
  })

  it('reports soon after the command exits even when a background process holds its output', async () => {
    const { client, exited, closes } = await startAgent()
    const started = Date.now()
    const result = await client.exec({ command: 'sleep 1721 & echo started' })
    expect(result).toMatchObject({ exitCode: 0, stdout: 'started\n' })
    expect(Date.now() - started).toBeLessThan(3000)
    expect(processesMatching(/^sleep 1721$/)).toHaveLength(1)
    // The host goes away: the agent exits and takes what its commands left running with it.
    client.close()
    expect(await exited).toBe(0)
    expect(closes).toEqual([undefined])
    expect(await eventually(() => processesMatching(/^sleep 1721$/).length === 0)).toBe(true)
  })

  it('runs concurrent requests on one channel', async () => {
    const { client } = await startAgent()
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        client.exec({ command: `sleep 0.$((${i} % 3)); echo ${i}` }),
      ),
    )
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 8 }, (_, i) => `${i}\n`))
  })
})

describe('guest agent over stdio: files', () => {
  it('writes, reads, stats and lists inside the root', async () => {
    const { client, root } = await startAgent()
    await client.writeFile('src/deep/new.txt', Buffer.from('hello\nworld\n'))
    expect(await readFile(path.join(root, 'src/deep/new.txt'), 'utf8')).toBe('hello\nworld\n')
    expect(Buffer.from(await client.readFile('/workspace/src/deep/new.txt')).toString()).toBe(
      'hello\nworld\n',
    )
    const info = await client.stat('src/deep/new.txt')
    expect(info).toMatchObject({
      path: '/workspace/src/deep/new.txt',
      kind: 'file',
      size: 12,
      mode: 0o644,
    })
    expect(
      Math.abs(info.mtimeMs - (await lstat(path.join(root, 'src/deep/new.txt'))).mtimeMs),
    ).toBeLessThan(1)
    await client.writeFile('run.sh', Buffer.from('#!/bin/sh\necho ran\n'), { mode: 0o4755 })
    expect((await lstat(path.join(root, 'run.sh'))).mode & 0o7777).toBe(0o755)
    expect((await client.exec({ command: './run.sh' })).stdout).toBe('ran\n')
    expect((await client.list('.')).map((e) => [e.name, e.kind])).toEqual([
      ['run.sh', 'file'],
      ['src', 'dir'],
    ])
    expect((await client.stat('/workspace')).kind).toBe('dir')
    // No temp file is left behind.
    expect((await client.list('src/deep')).map((e) => e.name)).toEqual(['new.txt'])
  })

  it('round-trips binary data, big files and odd names; keeps modes; reads at most maxBytes', async () => {
    const { client } = await startAgent()
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    await client.writeFile('bin.dat', bytes)
    expect(Buffer.from(await client.readFile('bin.dat')).equals(bytes)).toBe(true)
    const big = randomBytes(5 * 1024 * 1024 + 17)
    await client.writeFile('big.dat', big)
    expect(sha(await client.readFile('big.dat'))).toBe(sha(big))
    const odd = 'new\nline -dash $(x) ü.txt'
    await client.writeFile(odd, Buffer.from('odd'))
    expect((await client.list('.')).map((e) => e.name)).toContain(odd)
    expect(Buffer.from(await client.readFile(odd)).toString()).toBe('odd')
    await client.writeFile('x.sh', Buffer.from('a'), { mode: 0o750 })
    await client.writeFile('x.sh', Buffer.from('abcdef'))
    expect((await client.stat('x.sh')).mode).toBe(0o750)
    expect(Buffer.from(await client.readFile('x.sh', { maxBytes: 3 })).toString()).toBe('abc')
    await client.writeFile('empty', new Uint8Array(0))
    expect((await client.readFile('empty')).length).toBe(0)
  })

  it('refuses escapes and symlinks that lead out, without touching the host', async () => {
    const { client, root } = await startAgent()
    const hostPasswd = await readFile('/etc/passwd', 'utf8')
    await symlink('/etc', path.join(root, 'etc-link'))
    await symlink('/etc/passwd', path.join(root, 'passwd-link'))
    await mkdir(path.join(root, 'real'))
    await symlink(path.join(root, 'real'), path.join(root, 'inside-link'))
    expect(await codeOf(client.readFile('../../etc/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(client.readFile('/etc/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(client.readFile('a/../../etc/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(client.readFile('etc-link/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(client.readFile('passwd-link'))).toBe('PATH_REJECTED')
    expect(await codeOf(client.writeFile('etc-link/evil', Buffer.from('x')))).toBe('PATH_REJECTED')
    expect(await codeOf(client.list('etc-link'))).toBe('PATH_REJECTED')
    expect(await codeOf(client.stat('etc-link/passwd'))).toBe('PATH_REJECTED')
    // A link that stays inside is followed.
    await client.writeFile('inside-link/through.txt', Buffer.from('in'))
    expect(await readFile(path.join(root, 'real/through.txt'), 'utf8')).toBe('in')
    expect((await client.list('inside-link')).map((e) => e.name)).toEqual(['through.txt'])
    // Writing to a symlink replaces the link; it never writes through it.
    await client.writeFile('passwd-link', Buffer.from('replaced'))
    expect((await lstat(path.join(root, 'passwd-link'))).isSymbolicLink()).toBe(false)
    expect(await readFile('/etc/passwd', 'utf8')).toBe(hostPasswd)
    expect((await client.stat('etc-link')).kind).toBe('symlink')
    expect(existsSync('/etc/evil')).toBe(false)
  })

  it('lists and reports big directories across several frames', async () => {
    const { client } = await startAgent()
    await client.mark()
    await client.exec({
      command:
        'mkdir big && cd big && seq -w 1 10000 | sed "s/^/entry-with-a-longish-name-/" | xargs touch',
    })
    const entries = await client.list('big')
    expect(entries).toHaveLength(10_000)
    expect(entries[0]).toEqual({
      name: 'entry-with-a-longish-name-00001',
      kind: 'file',
      size: 0,
      mode: 0o644,
    })
    const set = await client.changes()
    expect(set.changes).toHaveLength(10_001)
    expect(set.changes.at(-1)).toMatchObject({
      path: 'big/entry-with-a-longish-name-10000',
      size: 0,
    })
  })

  it('says NOT_FOUND for missing paths and rejects the wrong kind', async () => {
    const { client } = await startAgent()
    await client.exec({ command: 'mkdir adir; echo x > afile' })
    expect(await codeOf(client.readFile('nope.txt'))).toBe('NOT_FOUND')
    expect(await codeOf(client.stat('nope.txt'))).toBe('NOT_FOUND')
    expect(await codeOf(client.list('nope'))).toBe('NOT_FOUND')
    expect(await codeOf(client.readFile('adir'))).toBe('PATH_REJECTED')
    expect(await codeOf(client.writeFile('adir', Buffer.from('x')))).toBe('PATH_REJECTED')
    expect(await codeOf(client.list('afile'))).toBe('PATH_REJECTED')
    expect(await codeOf(client.writeFile('afile/below', Buffer.from('x')))).toBe('PATH_REJECTED')
    expect(await codeOf(client.readFile('a\0b'))).toBe('PATH_REJECTED')
  })
})

describe('guest agent over stdio: tracking', () => {
  it('reports and pulls what a shell command created, modified, deleted, chmod-ed and linked', async () => {
    const { client, root } = await startAgent()
    await mkdir(path.join(root, 'src/old'), { recursive: true })
    await writeFile(path.join(root, 'src/keep.ts'), 'keep')
    await writeFile(path.join(root, 'src/edit.ts'), 'before')
    await writeFile(path.join(root, 'src/old/gone.ts'), 'gone')
    await writeFile(path.join(root, 'tool.sh'), 'echo')
    expect(await client.mark()).toEqual({ files: 6 })
    const run = await client.exec({
      command: [
        'echo after > src/edit.ts',
        'echo fresh > src/new.ts',
        'rm -r src/old',
        'chmod 755 tool.sh',
        'ln -s src/new.ts latest',
        'mkdir -m 700 private',
        "printf 'nl' > \"$(printf 'multi\\nline.txt')\"",
        'touch "$(printf \'bad\\377name\')"',
        'mkfifo pipe',
      ].join(' && '),
    })
    expect(run.stderr).toBe('')
    const set = await client.changes()
    expect(set.changes).toEqual([
      { path: 'latest', kind: 'symlink', target: 'src/new.ts' },
      {
        path: 'multi\nline.txt',
        kind: 'file',
        mode: 0o644,
        size: 2,
        sha256: sha(Buffer.from('nl')),
      },
      { path: 'private', kind: 'dir', mode: 0o700 },
      { path: 'tool.sh', kind: 'file', mode: 0o755, size: 4, sha256: sha(Buffer.from('echo')) },
      {
        path: 'src/edit.ts',
        kind: 'file',
        mode: 0o644,
        size: 6,
        sha256: sha(Buffer.from('after\n')),
      },
      {
        path: 'src/new.ts',
        kind: 'file',
        mode: 0o644,
        size: 6,
        sha256: sha(Buffer.from('fresh\n')),
      },
      { path: 'src/old', kind: 'deleted' },
      { path: 'src/old/gone.ts', kind: 'deleted' },
    ])
    expect(set.skipped).toEqual([
      { path: 'bad\\xffname', reason: 'the name is not valid UTF-8' },
      { path: 'pipe', reason: 'fifo' },
    ])
    expect((await client.changes()).changes).toEqual([])

    // One file changes again and one goes before the pull: new content, and missing.
    await client.exec({ command: 'echo again > src/new.ts; rm src/edit.ts' })
    const files = set.changes.filter((c) => c.kind === 'file').map((c) => c.path)
    const kept = keepFiles()
    const result = await client.pull(files, kept.receive)
    expect(result).toEqual({ pulled: 3, missing: ['src/edit.ts'] })
    const pulled = Object.fromEntries(
      kept.files.map((f) => [f.path, `${f.mode.toString(8)}:${f.data.toString()}`]),
    )
    expect(pulled).toEqual({
      'multi\nline.txt': '644:nl',
      'src/new.ts': '644:again\n',
      'tool.sh': '755:echo',
    })
  })

  it('pulls many and large files with flow control', async () => {
    const { client, root } = await startAgent()
    await client.mark()
    const big = randomBytes(20 * 1024 * 1024)
    await writeFile(path.join(root, 'big.bin'), big)
    await client.exec({ command: 'mkdir many; for i in $(seq 1 500); do echo $i > many/$i; done' })
    const set = await client.changes()
    const paths = set.changes.filter((c) => c.kind === 'file').map((c) => c.path)
    expect(paths).toHaveLength(501)
    const kept = keepFiles(() => new Promise((r) => setImmediate(r)))
    const result = await client.pull(paths, kept.receive)
    expect(result.pulled).toBe(501)
    expect(kept.files.find((f) => f.path === 'big.bin')?.data.equals(big)).toBe(true)
    // Over the limit: the pull says so instead of pretending the file is gone.
    await expect(
      client.pull(['big.bin'], keepFiles().receive, { maxFileBytes: 1024 }),
    ).rejects.toThrow(/larger than 1024 bytes/)
  })

  it('hashes and streams a file over 2 GiB in chunks, and reports one over the cap as too large', async () => {
    const { client } = await startAgent()
    expect(client.hello.features).toEqual(expect.arrayContaining(['stdin-acks', 'stream-pull']))
    await client.mark()
    const size = 2 * 1024 ** 3 + 1024 * 1024
    // Sparse: no disk, but every byte is read, hashed and sent.
    await client.exec({
      command: `truncate -s ${size} huge.bin && printf start | dd of=huge.bin conv=notrunc 2>/dev/null && truncate -s 3G over.bin`,
    })
    const set = await client.changes({ maxFileBytes: 2.5 * 1024 ** 3 })
    expect(set.changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'huge.bin', kind: 'file', size }),
        { path: 'over.bin', kind: 'too-large', mode: 0o644, size: 3 * 1024 ** 3 },
      ]),
    )
    const mirror = await tempDir('safe-coder-pull-')
    const target = path.join(mirror, 'huge.bin')
    const result = await client.pull(
      ['huge.bin'],
      (file) => receiveIntoMirror(target, `${target}.tmp`, file.mode),
      { maxFileBytes: 2.5 * 1024 ** 3 },
    )
    expect(result).toEqual({ pulled: 1, missing: [] })
    const pulled = await lstat(target)
    expect(pulled.size).toBe(size)
    expect(pulled.blocks * 512).toBeLessThan(1024 * 1024)
    const head = Buffer.alloc(5)
    const handle = await open(target, 'r')
    await handle.read(head, 0, 5, 0)
    await handle.close()
    expect(head.toString()).toBe('start')
  }, 300_000)

  it('reports guest resource figures', async () => {
    const { client } = await startAgent()
    const stats = await client.stats()
    expect(stats.cpuCount).toBeGreaterThan(0)
    expect(stats.cpuSeconds).toBeGreaterThan(0)
    expect(stats.memoryTotalBytes).toBeGreaterThan(stats.memoryUsedBytes)
    expect(stats.pids).toBeGreaterThan(0)
  })
})

describe('guest agent over stdio: lifecycle', () => {
  it('closes cleanly on a corrupt frame from the host', async () => {
    const { client, child, exited, stderr, closes } = await startAgent()
    child.stdin?.write(encodeHeader(FrameKind.json, 5, 0xfffffff0))
    expect(await exited).toBe(65)
    expect(stderr()).toMatch(/the host sent a malformed frame: a frame of 4294967280 bytes/)
    expect(stderr()).not.toMatch(/internal error|at .*\.js/)
    // It said so on the channel before going.
    await eventually(() => client.closed)
    expect(closes[0]?.message).toMatch(/reported a protocol error: malformed frame/)
  })

  it('answers an unknown op or a bad request with an error, not a crash', async () => {
    const root = await tempDir('safe-coder-agent-root-')
    const child = spawn(process.execPath, [agentMain, '--stdio', '--root', root], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    onTestFinished(() => {
      child.kill('SIGKILL')
    })
    const replies: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => replies.push(c))
    const send = (id: number, message: object): void => {
      const payload = Buffer.from(JSON.stringify(message))
      child.stdin.write(Buffer.concat([encodeHeader(FrameKind.json, id, payload.length), payload]))
    }
    send(77, { op: 'format-disk' })
    send(78, { op: 'exec', argv: 'not a list', cwd: '' })
    send(79, { op: 'read', path: '/etc/passwd', maxBytes: 10 })
    const text = (): string => Buffer.concat(replies).toString('latin1')
    expect(
      await eventually(() => /UNKNOWN_OP[\s\S]*BAD_REQUEST[\s\S]*BAD_REQUEST/.test(text())),
    ).toBe(true)
    expect(text()).not.toContain('root:')
    expect(child.exitCode).toBeNull()
  })

  it('syncs, answers and exits on shutdown', async () => {
    const { client, exited } = await startAgent()
    await client.shutdown()
    expect(await exited).toBe(0)
    expect(client.closed).toBe(true)
  })

  it('measures the round trip of `true`', async () => {
    const { client } = await startAgent()
    const times: number[] = []
    for (let i = 0; i < 40; i++) {
      const started = performance.now()
      await client.exec({ command: ['true'] })
      times.push(performance.now() - started)
    }
    times.sort((a, b) => a - b)
    const median = times[times.length / 2] as number
    process.stderr.write(`agent exec \`true\` round trip: median ${median.toFixed(2)} ms\n`)
    expect(median).toBeLessThan(500)
  })
})

describe.each(['epoll', 'poll'])('guest agent on a character device (--device, %s)', (io) => {
  it('hunts for the hello through stale bytes, serves a host, and resyncs after a corrupt frame', async () => {
    // A pseudo-terminal in raw mode stands in for the virtio-serial port: the agent opens the
    // slave path, the test speaks on the master.
    const require = createRequire(import.meta.url)
    const native = require(`@lydell/node-pty-${process.platform}-${process.arch}/pty.node`) as {
      open: (cols: number, rows: number) => { master: number; slave: number; pty: string }
    }
    const pty = native.open(80, 24)
    execFileSync('stty', ['-F', pty.pty, 'raw', '-echo'])
    const master = new tty.ReadStream(pty.master)
    const root = await tempDir('safe-coder-agent-root-')
    // Stale bytes from an earlier host, waiting in the port before the agent opens it.
    master.write(Buffer.from('\x00\x00\x00\x05\x02garbage from before'))
    const child = spawn(process.execPath, [agentMain, '--device', pty.pty, '--root', root], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SAFE_CODER_AGENT_DEVICE_IO: io },
    })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    onTestFinished(async () => {
      child.kill('SIGTERM')
      await exited
      master.destroy()
    })
    /** One host: a stream over the master that detaches when the client closes it. */
    const attach = (): Duplex => {
      const stream = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          master.write(chunk, () => {
            callback()
          })
        },
        final(callback) {
          callback()
        },
      })
      const onData = (chunk: Buffer): void => {
        stream.push(chunk)
      }
      master.on('data', onData)
      stream.once('close', () => master.off('data', onData))
      stream.once('finish', () => master.off('data', onData))
      return stream
    }

    const first = await connectAgent(attach(), { helloTimeoutMs: 20_000 })
    expect(first.hello.root).toBe(root)
    const data = randomBytes(100 * 1024)
    await first.writeFile('dev.bin', data)
    expect(sha(await first.readFile('dev.bin'))).toBe(sha(data))
    expect((await first.exec({ command: 'echo over the port' })).stdout).toBe('over the port\n')

    // A corrupt frame: the agent reports it and waits for a new hello instead of exiting.
    master.write(encodeHeader(FrameKind.json, 9, 0xfffffff0))
    await eventually(() => first.closed)
    expect(first.closed).toBe(true)
    const second = await connectAgent(attach(), { helloTimeoutMs: 10_000 })
    expect((await second.exec({ command: 'echo again' })).stdout).toBe('again\n')
    expect(second.hello.pid).toBe(first.hello.pid)
    expect(child.exitCode).toBeNull()
    second.close()
    expect(stderr).toMatch(/malformed frame/)
    expect(stderr).toContain(`(${io})`)
    // A signal ends it promptly (nothing blocks in a read).
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
