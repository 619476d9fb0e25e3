import { open, readFile } from 'node:fs/promises'
import { SafeCoderError } from '../../shared/errors.js'
import type { VmHostStats } from './types.js'

/**
 * Linux reports process times in USER_HZ ticks, which is 100 on every architecture Linux
 * supports for /proc (it is part of the ABI, independent of the kernel's CONFIG_HZ).
 */
const USER_HZ = 100

/**
 * CPU time and resident memory of a VMM process, from /proc. `/proc/<pid>/stat` counts the
 * time of all the process's threads (the vCPU threads included, and threads that already
 * exited), so the gauges need no walk over `task/*`. Linux only; throws SANDBOX_GONE when the
 * process is gone.
 */
export async function readHostStats(pid: number): Promise<VmHostStats> {
  let stat: string
  let status: string
  try {
    ;[stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
    ])
  } catch (error) {
    throw new SafeCoderError('SANDBOX_GONE', `The VMM process ${pid} is gone.`, {
      cause: error,
      data: { pid },
    })
  }
  return { cpuSeconds: parseCpuSeconds(stat), rssBytes: parseRssBytes(status) }
}

/** utime + stime of a `/proc/<pid>/stat` line, in seconds. */
export function parseCpuSeconds(stat: string): number {
  // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // After the name: state is field 3, so utime (14) and stime (15) sit at 11 and 12.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return 0
  return (utime + stime) / USER_HZ
}

/** `VmRSS` of a `/proc/<pid>/status`, in bytes (0 when absent, e.g. a zombie). */
export function parseRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return match?.[1] === undefined ? 0 : Number(match[1]) * 1024
}

/** The last `maxBytes` of a file as text (a console log), from a line boundary when cut. */
export async function fileTail(file: string, maxBytes: number): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined)
  if (handle === undefined) return ''
  try {
    const { size } = await handle.stat()
    const length = Math.min(size, Math.max(0, maxBytes))
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    let text = buffer.toString('utf8')
    if (length < size) {
      const nl = text.indexOf('\n')
      if (nl >= 0 && nl < text.length - 1) text = text.slice(nl + 1)
    }
    return text
  } finally {
    await handle.close()
  }
}
