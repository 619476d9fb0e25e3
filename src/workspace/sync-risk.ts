import path from 'node:path'
import type { ManifestEntry } from '../shared/manifest.js'
import { symlinkMode } from './blob-oid.js'
import type { RiskFlag, SyncAction } from './sync-types.js'

const shellRc = new Set([
  '.envrc',
  '.bashrc',
  '.bash_profile',
  '.bash_login',
  '.bash_logout',
  '.zshrc',
  '.zshenv',
  '.zprofile',
  '.zlogin',
  '.profile',
])
const buildHooks = new Set(['setup.py', 'setup.cfg', 'pyproject.toml'])
const makefiles = new Set(['Makefile', 'makefile', 'GNUmakefile'])
const binaryProbeBytes = 8192

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
export function riskFlagsOf(input: RiskInput): RiskFlag[] {
  const flags = new Set<RiskFlag>(flagsByName(input.path))
  const { session, host } = input
  if (input.action !== 'delete' && session !== undefined) {
    if (session.mode === symlinkMode) flags.add('symlink')
    else if (session.mode === 0o100755 && host?.mode !== 0o100755) flags.add('executable')
    if (session.size > input.maxFileBytes || session.tooLarge === true) flags.add('too-large')
    if (input.written !== undefined && isBinary(input.written)) flags.add('binary')
    if (input.written !== undefined && makesGitDir(input.path, input.written)) {
      flags.add('git-repository')
    }
    if (path.posix.basename(input.path) === 'package.json' && input.written !== undefined) {
      const before = scriptsOf(input.hostContent)
      const after = scriptsOf(input.written)
      if (before === undefined || after === undefined || before !== after) {
        flags.add('package-scripts')
      }
    }
  }
  return [...flags]
}

function flagsByName(rel: string): RiskFlag[] {
  const name = path.posix.basename(rel)
  const flags: RiskFlag[] = []
  if (name.startsWith('.git')) flags.push('git-config')
  if (
    rel.startsWith('.github/workflows/') ||
    rel.startsWith('.circleci/') ||
    name === '.gitlab-ci.yml' ||
    name === 'Jenkinsfile'
  ) {
    flags.push('ci-workflow')
  }
  if (buildHooks.has(name)) flags.push('build-hooks')
  if (makefiles.has(name) || name.endsWith('.mk')) flags.push('makefile')
  if (shellRc.has(name)) flags.push('shell-rc')
  if (name.startsWith('.safecoderrc') || name.startsWith('safecoder.config.')) {
    flags.push('safecoder-config')
  }
  return flags
}

/**
 * A `HEAD` or `config` that turns its folder into a git directory (an embedded bare repository):
 * git discovers it when run there — as a shell prompt showing git status does on `cd` — and obeys
 * its config (`core.fsmonitor`, `core.hooksPath`, …) on the user's machine.
 */
function makesGitDir(rel: string, written: Uint8Array): boolean {
  const name = path.posix.basename(rel)
  if (name !== 'HEAD' && name !== 'config' && name !== 'commondir') return false
  const text = Buffer.from(written.subarray(0, binaryProbeBytes)).toString('utf8')
  if (name === 'HEAD') return /^(ref:\s*refs\/|[0-9a-f]{40}\b|[0-9a-f]{64}\b)/.test(text)
  if (name === 'commondir') return true
  return /^\s*\[\s*(core|remote|include|includeIf|alias|filter|diff|merge)\b/im.test(text)
}

/** Git's own heuristic: a NUL byte in the first 8 KiB. */
export function isBinary(content: Uint8Array): boolean {
  return content.subarray(0, binaryProbeBytes).includes(0)
}

/** The `scripts` object as canonical text; undefined when the manifest does not parse. */
function scriptsOf(content: Uint8Array | undefined): string | undefined {
  if (content === undefined) return '{}'
  try {
    const parsed: unknown = JSON.parse(Buffer.from(content).toString('utf8'))
    const scripts =
      typeof parsed === 'object' && parsed !== null && 'scripts' in parsed ? parsed.scripts : {}
    return JSON.stringify(scripts ?? {}, Object.keys(scripts ?? {}).sort())
  } catch {
    return undefined
  }
}
