import { readFile } from 'node:fs/promises'
import path from 'node:path'

/** One line of /proc/self/mountinfo, the parts Safe Coder reads. */
export interface MountEntry {
  mountPoint: string
  fsType: string
  /** The device (`/dev/loop3`) or a file system's own name (`tmpfs`). */
  source: string
  /** Per-mount options (`rw`, `nosuid`, …). */
  options: string[]
}

/** Every mount this process sees, in mount order (a later entry covers an earlier one). */
export async function readMounts(file = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  return parseMountinfo(await readFile(file, 'utf8'))
}

/** mountinfo(5): `id parent maj:min root mountpoint options [optional…] - type source super`. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = []
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    const dash = fields.indexOf('-')
    const mountPoint = fields[4]
    const options = fields[5]
    const fsType = fields[dash + 1]
    const source = fields[dash + 2]
    if (dash < 6 || mountPoint === undefined || options === undefined) continue
    if (fsType === undefined || source === undefined) continue
    entries.push({
      mountPoint: unescapeMountinfo(mountPoint),
      fsType,
      source: unescapeMountinfo(source),
      options: options.split(','),
    })
  }
  return entries
}

/** The kernel writes space, tab, newline and backslash in paths as `\ooo` octal escapes. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  )
}

/** What is mounted exactly at `dir` (an absolute real path), the topmost mount; undefined if none. */
export async function mountAt(dir: string): Promise<MountEntry | undefined> {
  return (await readMounts()).filter((m) => m.mountPoint === dir).at(-1)
}

/** Mounts at or below `dir`, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<MountEntry[]> {
  const prefix = dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`
  return (await readMounts())
    .filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(prefix))
    .reverse()
}

/** The file a loop device reads (`/dev/loop3` → its backing file); undefined for other sources. */
export async function loopBackingFile(source: string): Promise<string | undefined> {
  const name = /^\/dev\/(loop\d+)$/.exec(source)?.[1]
  if (name === undefined) return undefined
  const text = await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => '')
  return text.trim() === '' ? undefined : text.trim()
}
