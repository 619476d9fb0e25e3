import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { buildContainerSpec } from '../../../src/sandbox/docker/container-spec.js'
import { StreamDemuxer } from '../../../src/sandbox/docker/demux.js'
import { parseListing, parseStat } from '../../../src/sandbox/docker/file-parse.js'
import { CappedBuffer } from '../../../src/sandbox/docker/output-buffer.js'
import { streamStats, toSample } from '../../../src/sandbox/docker/stats.js'

function frame(kind: number, text: string): Buffer {
  const payload = Buffer.from(text)
  const header = Buffer.alloc(8)
  header[0] = kind
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

describe('StreamDemuxer', () => {
  it('splits frames into stdout and stderr, even when they arrive cut at any byte', () => {
    const all = Buffer.concat([
      frame(1, 'out-1 '),
      frame(2, 'err'),
      frame(1, 'out-2'),
      frame(1, ''),
    ])
    for (let cut = 1; cut < all.length; cut++) {
      const got: string[] = []
      const demux = new StreamDemuxer((stream, chunk) => got.push(`${stream}:${chunk.toString()}`))
      demux.push(all.subarray(0, cut))
      demux.push(all.subarray(cut))
      expect(got).toEqual(['stdout:out-1 ', 'stderr:err', 'stdout:out-2'])
      expect(demux.leftover).toBe(0)
    }
  })

  it('reports a frame that never completed', () => {
    const demux = new StreamDemuxer(() => undefined)
    demux.push(frame(1, 'abcdef').subarray(0, 10))
    expect(demux.leftover).toBe(10)
  })
})

describe('CappedBuffer', () => {
  it('keeps the first bytes up to the limit and counts the rest', () => {
    const buffer = new CappedBuffer(5)
    buffer.push(Buffer.from('abc'))
    buffer.push(Buffer.from('defg'))
    buffer.push(Buffer.from('hij'))
    expect(buffer.toBuffer().toString()).toBe('abcde')
    expect(buffer.dropped).toBe(5)
  })
})

describe('file listing parsers', () => {
  it('parses stat lines into kind, size, permission bits and mtime', () => {
    expect(parseStat('/workspace/a', '81ed 12 1700000000\n')).toEqual({
      path: '/workspace/a',
      kind: 'file',
      size: 12,
      mode: 0o755,
      mtimeMs: 1_700_000_000_000,
    })
    expect(parseStat('/workspace/l', 'a1ff 4 1').kind).toBe('symlink')
    expect(parseStat('/workspace/d', '41ed 4096 1').kind).toBe('dir')
    expect(parseStat('/workspace/f', '11a4 0 1').kind).toBe('other')
  })

  it('parses NUL-terminated names, newlines included, sorted', () => {
    const output = Buffer.concat([
      Buffer.from('81a4 3\nz\0'),
      Buffer.from('41ed 4096\nline\nbreak\0'),
      Buffer.from('a1ff 9\nlink\0'),
    ])
    expect(parseListing(output)).toEqual([
      { name: 'line\nbreak', kind: 'dir', size: 4096, mode: 0o755 },
      { name: 'link', kind: 'symlink', size: 9, mode: 0o777 },
      { name: 'z', kind: 'file', size: 3, mode: 0o644 },
    ])
  })
})

describe('toSample', () => {
  it('computes CPU % as docker stats does and leaves page cache out of memory', () => {
    const sample = toSample({
      read: '2026-01-01T00:00:00Z',
      cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 1_000 }, system_cpu_usage: 10_000 },
      memory_stats: { usage: 500, limit: 1000, stats: { cache: 100 } },
      pids_stats: { current: 7 },
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'Read', value: 10 },
          { op: 'Write', value: 20 },
          { op: 'Total', value: 30 },
        ],
      },
      networks: { eth0: { rx_bytes: 1, tx_bytes: 2 } },
    })
    expect(sample).toEqual({
      at: Date.parse('2026-01-01T00:00:00Z'),
      cpuPercent: 40,
      memoryBytes: 400,
      memoryLimitBytes: 1000,
      pids: 7,
      blockReadBytes: 10,
      blockWriteBytes: 20,
      netRxBytes: 1,
      netTxBytes: 2,
    })
  })

  it('survives a sparse document (first sample, cgroup v2, no network)', () => {
    const sample = toSample(
      { memory_stats: { usage: 50, limit: 100, stats: { inactive_file: 10 } } },
      42,
    )
    expect(sample).toMatchObject({
      at: 42,
      cpuPercent: 0,
      memoryBytes: 40,
      blockReadBytes: 0,
      netRxBytes: 0,
    })
  })
})

describe('streamStats', () => {
  const doc = (total: number, system: number, pre?: [number, number]): string =>
    JSON.stringify({
      read: '2026-01-01T00:00:00Z',
      cpu_stats: { cpu_usage: { total_usage: total }, system_cpu_usage: system, online_cpus: 1 },
      precpu_stats:
        pre === undefined
          ? { cpu_usage: { total_usage: 0 } }
          : { cpu_usage: { total_usage: pre[0] }, system_cpu_usage: pre[1] },
      memory_stats: { usage: 10, limit: 100 },
      pids_stats: { current: 2 },
    })
  // What the Engine publishes when it could not collect a sample.
  const empty = JSON.stringify({
    read: '0001-01-01T00:00:00Z',
    pids_stats: {},
    cpu_stats: { cpu_usage: { total_usage: 0 } },
    memory_stats: {},
  })
  const fake = (lines: string[], running: boolean) =>
    ({
      id: 'c1',
      stats: () => Promise.resolve(Readable.from([lines.join('\n') + '\n'])),
      inspect: () => Promise.resolve({ State: { Running: running } }),
    }) as unknown as Parameters<typeof streamStats>[0]
  const collect = async (lines: string[], running: boolean) => {
    const got: number[] = []
    for await (const s of streamStats(fake(lines, running), new AbortController().signal)) {
      got.push(s.cpuPercent)
    }
    return got
  }

  it('skips a missed sample of a running container and measures across the gap', async () => {
    // 100 → 150 over 100 system units is 50 %; after the gap the Engine's "previous" is empty.
    const got = await collect([doc(100, 1000, [0, 0]), empty, doc(150, 1100)], true)
    expect(got).toEqual([10, 50])
  })

  it('ends at the empty document of a stopped container', async () => {
    const got = await collect([doc(100, 1000, [0, 0]), empty, doc(150, 1100)], false)
    expect(got).toEqual([10])
  })
})

describe('buildContainerSpec', () => {
  const spec = buildContainerSpec(
    {
      sessionId: 's-1',
      mirrorDir: '/state/s-1/work:odd,name',
      projectPath: '/home/u/p',
      user: { uid: 1000, gid: 1001 },
    },
    {
      kind: 'docker',
      image: 'img:1',
      cpus: 1.5,
      memoryMb: 512,
      pidsLimit: 100,
      tmpSizeMb: 64,
      diskMb: 256,
      readOnlyRoot: true,
      autoPull: false,
      runtime: 'runsc',
    },
  )

  it('asks for the hardened posture: no network, no capabilities, limits, host uid', () => {
    const host = spec.HostConfig
    expect(spec.User).toBe('1000:1001')
    expect(host?.NetworkMode).toBe('none')
    expect(spec.NetworkDisabled).toBe(true)
    expect(host?.CapDrop).toEqual(['ALL'])
    expect(host?.SecurityOpt).toEqual(['no-new-privileges'])
    expect(host?.Privileged).toBe(false)
    expect(host?.PidsLimit).toBe(100)
    expect(host?.Memory).toBe(512 * 2 ** 20)
    expect(host?.MemorySwap).toBe(512 * 2 ** 20)
    expect(host?.NanoCpus).toBe(1.5e9)
    expect(host?.Init).toBe(true)
    expect(host?.ReadonlyRootfs).toBe(true)
    expect(host?.Runtime).toBe('runsc')
    expect(host?.Tmpfs?.['/tmp']).toMatch(/nosuid,nodev,size=64m/)
  })

  it('mounts only the mirror, at /workspace, as a Mounts entry that odd paths cannot break', () => {
    expect(spec.HostConfig?.Binds).toBeUndefined()
    expect(spec.HostConfig?.Mounts).toEqual([
      { Type: 'bind', Source: '/state/s-1/work:odd,name', Target: '/workspace', ReadOnly: false },
    ])
    expect(spec.WorkingDir).toBe('/workspace')
  })

  it('labels the container so gc can find it', () => {
    expect(spec.Labels).toMatchObject({
      'safe-coder.session': 's-1',
      'safe-coder.owner-pid': String(process.pid),
      'safe-coder.path': '/home/u/p',
    })
  })
})
