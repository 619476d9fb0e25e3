import { readFile, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

/** Where this host keeps process and cgroup files; tests point these at a fake tree. */
export interface HostRoots {
  proc: string
  cgroup: string
}

export const hostRoots: HostRoots = { proc: '/proc', cgroup: '/sys/fs/cgroup' }

/** One container's resource files on this host (cgroup v1: one directory per controller). */
export interface CgroupFiles {
  version: 1 | 2
  /** The container's main process, whose network namespace has the interface counters. */
  pid: number
  containerId: string
  cpu: string
  memory: string
  pids: string
  io: string
  roots: HostRoots
}

/** One reading of the files: counters since the container started, levels now. */
export interface CgroupReading {
  cpuNanos: number
  memoryBytes: number
  memoryLimitBytes: number
  pids: number
  blockReadBytes: number
  blockWriteBytes: number
  netRxBytes: number
  netTxBytes: number
}

/** Anything at or above this is cgroup v1's "no limit" (a page-rounded 2^63 - 1). */
const unlimited = 2 ** 62

/**
 * The cgroup directories of the process `pid`, if it is this container's: the engine reports the
 * pid in its own pid namespace and a remote engine's pid means nothing here, so a path that does
 * not carry the full container id (`/docker/<id>`, `docker-<id>.scope`, `libpod-<id>.scope`) is
 * somebody else's process and undefined is returned; so it is when the files are not readable.
 */
export async function locateCgroup(
  pid: number,
  containerId: string,
  roots: HostRoots = hostRoots,
): Promise<CgroupFiles | undefined> {
  if (!Number.isSafeInteger(pid) || pid <= 0 || !/^[0-9a-f]{64}$/.test(containerId)) return
  const text = await readFile(path.join(roots.proc, String(pid), 'cgroup'), 'utf8').catch(
    () => undefined,
  )
  if (text === undefined) return
  const v1 = new Map<string, string>()
  let unified: string | undefined
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(\/.*)$/.exec(line)
    if (match === null) continue
    const [, hierarchy, controllers = '', where = ''] = match
    if (!where.includes(containerId) || where.split('/').includes('..')) continue
    if (hierarchy === '0' && controllers === '') unified = where
    // A v1 hierarchy is mounted under the list of its controllers ("cpu,cpuacct").
    for (const name of controllers.split(','))
      v1.set(name, path.join(roots.cgroup, controllers, where))
  }
  const base = { pid, containerId, roots }
  const [cpu, memory, pids, io] = ['cpuacct', 'memory', 'pids', 'blkio'].map((c) => v1.get(c))
  if (cpu !== undefined && memory !== undefined && (await isDir(cpu)) && (await isDir(memory))) {
    return { ...base, version: 1, cpu, memory, pids: pids ?? '', io: io ?? '' }
  }
  if (unified === undefined) return
  const dir = path.join(roots.cgroup, unified)
  if (!(await isFile(path.join(dir, 'cpu.stat')))) return
  return { ...base, version: 2, cpu: dir, memory: dir, pids: dir, io: dir }
}

/**
 * Reads the container's figures: CPU time, memory without the reclaimable page cache (as
 * `docker stats` counts it), pids, block I/O and the non-loopback interfaces' bytes. Rejects
 * with ENOENT when the container's cgroup is gone (it stopped).
 */
export async function readCgroup(files: CgroupFiles): Promise<CgroupReading> {
  const v1 = files.version === 1
  const [cpu, usage, limit, memoryStat, pids, io, net] = await Promise.all([
    readText(files.cpu, v1 ? 'cpuacct.usage' : 'cpu.stat'),
    readText(files.memory, v1 ? 'memory.usage_in_bytes' : 'memory.current'),
    readText(files.memory, v1 ? 'memory.limit_in_bytes' : 'memory.max'),
    readText(files.memory, 'memory.stat'),
    optional(readText(files.pids, 'pids.current')),
    optional(readText(files.io, v1 ? 'blkio.throttle.io_service_bytes_recursive' : 'io.stat')),
    optional(readFile(path.join(files.roots.proc, String(files.pid), 'net', 'dev'), 'utf8')),
  ])
  const cache = keyed(memoryStat).get(v1 ? 'total_inactive_file' : 'inactive_file') ?? 0
  const limitBytes = numberOf(limit)
  const blocks = v1 ? blkioBytes(io) : ioStatBytes(io)
  const traffic = netBytes(net)
  return {
    cpuNanos: v1 ? numberOf(cpu) : (keyed(cpu).get('usage_usec') ?? 0) * 1000,
    memoryBytes: Math.max(0, numberOf(usage) - cache),
    memoryLimitBytes: limitBytes > 0 && limitBytes < unlimited ? limitBytes : os.totalmem(),
    pids: numberOf(pids),
    blockReadBytes: blocks.read,
    blockWriteBytes: blocks.write,
    netRxBytes: traffic.rx,
    netTxBytes: traffic.tx,
  }
}

function readText(dir: string, name: string): Promise<string> {
  return readFile(path.join(dir, name), 'utf8')
}

/** Controllers a host may lack (no pids or blkio controller, no network namespace to read). */
function optional(read: Promise<string>): Promise<string> {
  return read.catch(() => '')
}

/** A bare number ("max", empty or junk reads as 0). */
function numberOf(text: string): number {
  const n = Number(text.trim())
  return Number.isFinite(n) && n >= 0 ? n : 0
}

/** `key value` lines (memory.stat, cpu.stat). */
function keyed(text: string): Map<string, number> {
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ')
    if (key !== undefined && value !== undefined) values.set(key, numberOf(value))
  }
  return values
}

/** cgroup v1: `8:0 Read 4096` lines per device (the `Total` lines are left out). */
function blkioBytes(text: string): { read: number; write: number } {
  let read = 0
  let write = 0
  for (const line of text.split('\n')) {
    const [, op, value] = line.split(' ')
    if (op === 'Read') read += numberOf(value ?? '')
    else if (op === 'Write') write += numberOf(value ?? '')
  }
  return { read, write }
}

/** cgroup v2: `8:0 rbytes=4096 wbytes=0 rios=1 …` lines per device. */
function ioStatBytes(text: string): { read: number; write: number } {
  let read = 0
  let write = 0
  for (const line of text.split('\n')) {
    for (const field of line.split(' ')) {
      if (field.startsWith('rbytes=')) read += numberOf(field.slice(7))
      else if (field.startsWith('wbytes=')) write += numberOf(field.slice(7))
    }
  }
  return { read, write }
}

/** /proc/<pid>/net/dev: two header lines, then `iface: rx_bytes …(8 fields) tx_bytes …`. */
function netBytes(text: string): { rx: number; tx: number } {
  let rx = 0
  let tx = 0
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':')
    if (colon === -1 || line.slice(0, colon).trim() === 'lo') continue
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
    rx += numberOf(fields[0] ?? '')
    tx += numberOf(fields[8] ?? '')
  }
  return { rx, tx }
}

async function isDir(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => undefined))?.isDirectory() === true
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() === true
}
