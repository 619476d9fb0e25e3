/**
 * The pattern syntax of the risky-path list, matched against a path's segments after folding
 * (see foldName):
 * - without `/`: the file name, in any folder; `*` at the start or end stands for any text;
 * - ending in `/`: any file below a folder of that name (or run of folders), at any depth;
 * - otherwise: the last segments of the path (`.vscode/tasks.json` in any folder).
 */
export function compilePathPattern(pattern: string): (segments: readonly string[]) => boolean {
  const folder = pattern.endsWith('/')
  const parts = pattern.replace(/\/$/, '').split('/').map(compileSegment)
  const matchesAt = (segments: readonly string[], start: number): boolean =>
    parts.every((part, i) => part(segments[start + i] ?? ''))
  if (!folder) {
    return (segments) =>
      segments.length >= parts.length && matchesAt(segments, segments.length - parts.length)
  }
  return (segments) => {
    // Folders only: the last segment is the file itself.
    for (let start = 0; start + parts.length < segments.length; start++) {
      if (matchesAt(segments, start)) return true
    }
    return false
  }
}

/** A project-relative, `/`-separated path as folded segments. */
export function foldPath(rel: string): string[] {
  return rel.split('/').map(foldName)
}

/**
 * A name as a case-insensitive host may resolve it: lower case, without the characters HFS+
 * ignores, and without the trailing dots and spaces Windows drops. So `.NPMRC` is `.npmrc`.
 */
export function foldName(name: string): string {
  return name
    .replace(/[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g, '')
    .replace(/[. ]+$/, '')
    .toLowerCase()
}

function compileSegment(pattern: string): (segment: string) => boolean {
  const literal = pattern.replace(/^\*|\*$/g, '').toLowerCase()
  if (pattern.startsWith('*')) return (segment) => segment.endsWith(literal)
  if (pattern.endsWith('*')) return (segment) => segment.startsWith(literal)
  return (segment) => segment === literal
}
