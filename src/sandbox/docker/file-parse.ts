import type { DirEntry, FileKind, FileStat } from '../types.js'

/** The file type from a raw st_mode (stat's %f, in hex). */
export function kindOfMode(mode: number): FileKind {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file'
    case 0o040000:
      return 'dir'
    case 0o120000:
      return 'symlink'
    default:
      return 'other'
  }
}

/** Parses STAT_SCRIPT's "rawmode-hex size mtime" line. */
export function parseStat(path: string, line: string): FileStat {
  const [mode = '0', size = '0', mtime = '0'] = line.trim().split(' ')
  const raw = Number.parseInt(mode, 16)
  return {
    path,
    kind: kindOfMode(raw),
    size: Number(size),
    mode: raw & 0o7777,
    mtimeMs: Number(mtime) * 1000,
  }
}

/** Parses LIST_SCRIPT's records: "rawmode-hex size\n" then the name and a NUL (names may hold newlines). */
export function parseListing(output: Buffer): DirEntry[] {
  const entries: DirEntry[] = []
  let at = 0
  while (at < output.length) {
    const eol = output.indexOf(0x0a, at)
    if (eol < 0) break
    const nul = output.indexOf(0x00, eol + 1)
    if (nul < 0) break
    const [mode = '0', size = '0'] = output.subarray(at, eol).toString('utf8').split(' ')
    const raw = Number.parseInt(mode, 16)
    entries.push({
      name: output.subarray(eol + 1, nul).toString('utf8'),
      kind: kindOfMode(raw),
      size: Number(size),
      mode: raw & 0o7777,
    })
    at = nul + 1
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}
