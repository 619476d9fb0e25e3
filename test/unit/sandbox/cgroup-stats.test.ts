import { mkdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  locateCgroup,
  readCgroup,
  type CgroupFiles,
  type HostRoots,
} from '../../../src/sandbox/docker/cgroup-files.js'
import { sampleStats } from '../../../src/sandbox/docker/cgroup-stats.js'
import type { ResourceSample } from '../../../src/sandbox/types.js'
import { tempDir } from '../../helpers/sandbox.js'

const id = 'c0ffee'.padEnd(64, '0')
const pid = 4242

/** A fake /proc and /sys/fs/cgroup holding one container. */
async function hostTree(): Promise<
  HostRoots & { put: (file: string, text: string) => Promise<void> }
> {
  const root = await tempDir('safe-coder-cgroup-')
  const roots = { proc: path.join(root, 'proc'), cgroup: path.join(root, 'cgroup') }
  const put = async (file: string, text: string): Promise<void> => {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true })
    await writeFile(path.join(root, file), text)
  }
  await put(
    `proc/${pid}/net/dev`,
    'Inter-|   Receive\n face |bytes packets\n' +
      '    lo:  9999 1 0 0 0 0 0 0  9999 1 0 0 0 0 0 0\n' +
      '  eth0:   700 5 0 0 0 0 0 0   300 2 0 0 0 0 0 0\n',
  )
  return { ...roots, put }
}

/** cgroup v1 as Debian's Docker 20.10 lays it out (cgroupfs driver, one mount per controller). */
async function v1Tree(combined = false) {
  const tree = await hostTree()
  const cpu = combined ? 'cpu,cpuacct' : 'cpuacct'
  await tree.put(
    `proc/${pid}/cgroup`,
    `4:memory:/docker/${id}\n3:blkio:/docker/${id}\n2:${cpu}:/docker/${id}\n1:pids:/docker/${id}\n0::/docker/${id}\n`,
  )
  await tree.put(`cgroup/${cpu}/docker/${id}/cpuacct.usage`, '2500000000\n')
  await tree.put(`cgroup/memory/docker/${id}/memory.usage_in_bytes`, '1000000\n')
  await tree.put(`cgroup/memory/docker/${id}/memory.limit_in_bytes`, '268435456\n')
  await tree.put(
    `cgroup/memory/docker/${id}/memory.stat`,
    'cache 40960\ninactive_file 4096\ntotal_inactive_file 200000\n',
  )
  await tree.put(`cgroup/pids/docker/${id}/pids.current`, '3\n')
  await tree.put(
    `cgroup/blkio/docker/${id}/blkio.throttle.io_service_bytes_recursive`,
    '8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n',
  )
  return tree
}

/** cgroup v2 with the systemd driver. */
async function v2Tree() {
  const tree = await hostTree()
  const scope = `system.slice/docker-${id}.scope`
  await tree.put(`proc/${pid}/cgroup`, `0::/${scope}\n`)
  await tree.put(`cgroup/${scope}/cpu.stat`, 'usage_usec 1500000\nuser_usec 1000000\n')
  await tree.put(`cgroup/${scope}/memory.current`, '500000\n')
  await tree.put(`cgroup/${scope}/memory.max`, 'max\n')
  await tree.put(`cgroup/${scope}/memory.stat`, 'anon 1\ninactive_file 100000\n')
  await tree.put(`cgroup/${scope}/pids.current`, '7\n')
  await tree.put(`cgroup/${scope}/io.stat`, '8:0 rbytes=10 wbytes=20 rios=1 wios=1\n')
  return tree
}

async function located(tree: HostRoots): Promise<CgroupFiles> {
  const files = await locateCgroup(pid, id, tree)
  if (files === undefined) throw new Error('the fake container was not found')
  return files
}

/** Just enough of a dockerode container for the sampler. */
function fakeContainer(running: () => boolean, stream: string[] = []) {
  return {
    id,
    inspect: () => Promise.resolve({ State: { Running: running(), Pid: pid } }),
    stats: () => Promise.resolve(Readable.from(stream.map((line) => `${line}\n`))),
  } as unknown as Parameters<typeof sampleStats>[0]
}

describe('cgroup files', () => {
  it('reads cgroup v1 figures as docker stats counts them', async () => {
    for (const combined of [false, true]) {
      const tree = await v1Tree(combined)
      const files = await located(tree)
      expect(files.version).toBe(1)
      expect(await readCgroup(files)).toEqual({
        cpuNanos: 2_500_000_000,
        memoryBytes: 800_000,
        memoryLimitBytes: 268_435_456,
        pids: 3,
        blockReadBytes: 4096,
        blockWriteBytes: 8192,
        netRxBytes: 700,
        netTxBytes: 300,
      })
    }
  })

  it('reads cgroup v2 figures; no memory limit is the host memory', async () => {
    const tree = await v2Tree()
    const files = await located(tree)
    expect(files.version).toBe(2)
    expect(await readCgroup(files)).toEqual({
      cpuNanos: 1_500_000_000,
      memoryBytes: 400_000,
      memoryLimitBytes: os.totalmem(),
      pids: 7,
      blockReadBytes: 10,
      blockWriteBytes: 20,
      netRxBytes: 700,
      netTxBytes: 300,
    })
  })

  it("refuses a pid that is not the container's here (remote engine, other pid namespace)", async () => {
    const tree = await v1Tree()
    expect(await locateCgroup(pid, 'f'.repeat(64), tree)).toBeUndefined()
    expect(await locateCgroup(pid + 1, id, tree)).toBeUndefined()
    expect(await locateCgroup(0, id, tree)).toBeUndefined()
    await tree.put(`proc/${pid}/cgroup`, `0::/docker/${id}/../../elsewhere\n`)
    expect(await locateCgroup(pid, id, tree)).toBeUndefined()
  })
})

describe('sampleStats', () => {
  it('samples the cgroup files and ends when the container stops', async () => {
    const tree = await v1Tree()
    let running = true
    const samples: ResourceSample[] = []
    for await (const sample of sampleStats(
      fakeContainer(() => running),
      new AbortController().signal,
      { roots: tree, intervalMs: 1 },
    )) {
      samples.push(sample)
      if (samples.length === 1) {
        await tree.put(`cgroup/cpuacct/docker/${id}/cpuacct.usage`, '9900000000\n')
      }
      if (samples.length === 2) {
        running = false
        await rm(path.join(tree.cgroup, 'cpuacct'), { recursive: true })
      }
    }
    expect(samples).toHaveLength(2)
    expect(samples[0]?.cpuPercent).toBe(0)
    expect(samples[1]?.cpuPercent).toBeGreaterThan(0)
    expect(samples[1]?.memoryBytes).toBe(800_000)
  })

  it("falls back to the Engine's stream when the files are not the container's", async () => {
    const tree = await v1Tree()
    await tree.put(`proc/${pid}/cgroup`, '0::/user.slice\n')
    const doc = JSON.stringify({
      read: '2026-01-01T00:00:00Z',
      cpu_stats: { cpu_usage: { total_usage: 300 }, system_cpu_usage: 2000, online_cpus: 1 },
      precpu_stats: { cpu_usage: { total_usage: 100 }, system_cpu_usage: 1000 },
      memory_stats: { usage: 10, limit: 100 },
      pids_stats: { current: 2 },
    })
    const samples: ResourceSample[] = []
    for await (const sample of sampleStats(
      fakeContainer(() => true, [doc]),
      new AbortController().signal,
      { roots: tree },
    )) {
      samples.push(sample)
    }
    expect(samples.map((s) => s.cpuPercent)).toEqual([20])
  })
})
