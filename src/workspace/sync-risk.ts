import type { ManifestEntry } from '../shared/manifest.js'
import { isBinaryContent } from '../shared/text-content.js'
import { symlinkMode } from './blob-oid.js'
import { foldPath } from './risk-pattern.js'
import { riskyPackageKeys, rulesMatching } from './sync-risk-paths.js'
import type { Risk, RiskFlag, SyncAction } from './sync-types.js'

const executableMode = 0o100755
const probeBytes = 8192

/** What the risk rules look at for one change. */
export interface RiskInput {
  path: string
  action: SyncAction
  session?: ManifestEntry | undefined
  host?: ManifestEntry | undefined
  /** The bytes that will be written (regular files). */
  written?: Uint8Array | undefined
  /** The host's current bytes, for package.json only. */
  hostContent?: Uint8Array | undefined
  maxFileBytes: number
}

// Files that run code or steer tools on the user's machine deserve a look before they land.
/** The risks of one change, one per flag, each with the reason the plan shows. */
export function assessRisks(input: RiskInput): Risk[] {
  const risks = new Map<RiskFlag, string>()
  const add = (flag: RiskFlag, reason: string): void => {
    if (!risks.has(flag)) risks.set(flag, reason)
  }
  for (const rule of rulesMatching(input.path)) add(rule.flag, rule.reason)
  const { session, host, written } = input
  if (input.action !== 'delete' && session !== undefined) {
    if (session.mode === symlinkMode)
      add('symlink', 'a symbolic link: may point outside the project')
    else if (session.mode === executableMode) {
      add(
        'executable',
        host?.mode === executableMode
          ? 'edits a file that is already executable: it runs as a program'
          : 'becomes executable: it can run as a program',
      )
    }
    if (session.size > input.maxFileBytes || session.tooLarge === true) {
      add('too-large', 'too large to review')
    }
    if (written !== undefined && isBinaryContent(written)) {
      add('binary', 'binary or not UTF-8: could not be reviewed as text')
    }
    if (written !== undefined && makesGitDir(input.path, written)) {
      add(
        'git-repository',
        'makes a folder a git repository: git (and a prompt showing git status) obeys its config there',
      )
    }
    if (foldPath(input.path).at(-1) === 'package.json' && written !== undefined) {
      for (const risk of packageRisks(input.hostContent, written)) add(risk.flag, risk.reason)
    }
  }
  return [...risks].map(([flag, reason]) => ({ flag, reason }))
}

/** The flags of {@link assessRisks}, for callers that show no reasons. */
export function riskFlagsOf(input: RiskInput): RiskFlag[] {
  return assessRisks(input).map((risk) => risk.flag)
}

/**
 * A `HEAD` or `config` that turns its folder into a git directory (an embedded bare repository):
 * git discovers it when run there — as a shell prompt showing git status does on `cd` — and obeys
 * its config (`core.fsmonitor`, `core.hooksPath`, …) on the user's machine.
 */
function makesGitDir(rel: string, written: Uint8Array): boolean {
  const name = rel.split('/').at(-1)
  if (name !== 'HEAD' && name !== 'config' && name !== 'commondir') return false
  const text = Buffer.from(written.subarray(0, probeBytes)).toString('utf8')
  if (name === 'HEAD') return /^(ref:\s*refs\/|[0-9a-f]{40}\b|[0-9a-f]{64}\b)/.test(text)
  if (name === 'commondir') return true
  return /^\s*\[\s*(core|remote|include|includeIf|alias|filter|diff|merge)\b/im.test(text)
}

/** The risky keys of package.json whose value differs between the host's and the new version. */
function packageRisks(hostContent: Uint8Array | undefined, written: Uint8Array): Risk[] {
  const before = hostContent === undefined ? {} : parseManifest(hostContent)
  const after = parseManifest(written)
  if (before === undefined || after === undefined) {
    return [
      {
        flag: 'package-scripts',
        reason: 'package.json does not parse: its scripts and settings cannot be checked',
      },
    ]
  }
  return riskyPackageKeys
    .filter(({ key }) => canonicalJson(before[key]) !== canonicalJson(after[key]))
    .map(({ flag, reason }) => ({ flag, reason }))
}

function parseManifest(content: Uint8Array): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(content).toString('utf8'))
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** JSON text with object keys sorted at every depth: equal values give equal text. */
function canonicalJson(value: unknown): string {
  if (value === undefined) return ''
  return JSON.stringify(value, (_key, inner: unknown) =>
    typeof inner === 'object' && inner !== null && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  )
}
