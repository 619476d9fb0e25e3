/** `stats`: guest-wide figures from /proc (the VM's, or the container's view of the host's). */

import { readdirSync, readFileSync } from 'node:fs'

/** /proc/stat counts in USER_HZ, which is 100 on every Linux architecture. */
const USER_HZ = 100

export function readStats(): object {
  const stat = readFileSync('/proc/stat', 'utf8')
  let cpuSeconds = 0
  let cpuCount = 0
  for (const line of stat.split('\n')) {
    if (line.startsWith('cpu ')) {
      // user nice system idle iowait irq softirq steal …
      const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = line
        .trim()
        .split(/\s+/)
        .slice(1)
        .map(Number)
      cpuSeconds = (user + nice + system + irq + softirq) / USER_HZ
    } else if (/^cpu[0-9]+ /.test(line)) {
      cpuCount++
    }
  }
  const meminfo = readFileSync('/proc/meminfo', 'utf8')
  const kib = (key: string): number | undefined => {
    const match = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024
  }
  const total = kib('MemTotal') ?? 0
  const available = kib('MemAvailable') ?? kib('MemFree') ?? 0
  return {
    ok: true,
    cpuSeconds,
    cpuCount: Math.max(cpuCount, 1),
    memoryTotalBytes: total,
    memoryUsedBytes: Math.max(0, total - available),
    pids: countProcesses(),
  }
}

/** User-space processes besides the agent (kernel threads, children of kthreadd, excluded). */
function countProcesses(): number {
  let count = 0
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue
    const pid = Number(name)
    if (pid === process.pid || pid === 2) continue
    let line: string
    try {
      line = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses; the last ')' ends it.
    const ppid = Number(line.slice(line.lastIndexOf(')') + 2).split(' ')[1])
    if (ppid === 2) continue
    count++
  }
  return count
}
