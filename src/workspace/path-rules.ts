import ignore from 'ignore'

/** Git's own default for core.ignorecase on each platform. */
const ignoreCase = process.platform === 'darwin' || process.platform === 'win32'

/**
 * Which project paths copy-in leaves out: every `.git`, the `[workspace] exclude` patterns (which
 * no .gitignore negation can bring back), and the .gitignore files found while walking.
 */
export interface PathRules {
  /** Adds the patterns of `<dir>/.gitignore`; they apply to that directory's subtree only. */
  addGitignore(dir: string, content: string): void
  /** True when `rel` (relative to the project root, `/`-separated) must not be copied. */
  skips(rel: string, isDir: boolean): boolean
}

// One rule set per copy: exclude patterns on top, nested .gitignore files merged in walk order.
export function createPathRules(exclude: readonly string[]): PathRules {
  const excluded = ignore({ ignorecase: ignoreCase }).add(exclude)
  const gitignored = ignore({ ignorecase: ignoreCase })
  return {
    addGitignore(dir, content) {
      gitignored.add(dir === '' ? content : scopePatterns(dir, content))
    },
    skips(rel, isDir) {
      if (hasGitSegment(rel)) return true
      const key = isDir ? `${rel}/` : rel
      return excluded.ignores(key) || gitignored.ignores(key)
    },
  }
}

/**
 * Rewrites the patterns of a nested .gitignore so they read from the project root: anchored
 * patterns (a slash before the end) get the directory prefix, the others match at any depth
 * below it. Rules of a deeper file are added later, so they win, as in git.
 */
export function scopePatterns(dir: string, content: string): { pattern: string }[] {
  const prefix = `${escapeGlob(dir)}/`
  const patterns: { pattern: string }[] = []
  for (const line of content.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue
    const negative = line.startsWith('!')
    const body = negative ? line.slice(1) : line
    const anchored = body.trimEnd().slice(0, -1).includes('/')
    const rooted = body.startsWith('/') ? body.slice(1) : body
    if (rooted.trim() === '') continue
    const scoped = anchored ? `${prefix}${rooted}` : `${prefix}**/${body}`
    patterns.push({ pattern: `${negative ? '!' : ''}${scoped}` })
  }
  return patterns
}

function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]!#]/g, '\\$&')
}

/** `.git` anywhere in the path, in any letter case (case-insensitive hosts see `.GIT` as `.git`). */
export function hasGitSegment(rel: string): boolean {
  return rel.split('/').some((segment) => segment.toLowerCase() === '.git')
}

/** A path that could leave the root: absolute, NUL, or an empty, `.` or `..` segment. */
export function isUnsafeName(rel: string): boolean {
  if (rel === '' || rel.startsWith('/') || rel.includes('\0')) return true
  return rel.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
}
