/**
 * The policy file the sidecar is given (read-only mount): `{"mode", "allow", "deny"}` as JSON,
 * validated on every read and re-read when it changes, so a host can be allowed mid-session.
 */
import { readFileSync, statSync } from 'node:fs'
import { SafeCoderError, toErrorInfo } from '../shared/errors.js'
import { expandPresets, parseDestination } from './policy.js'
import type { NetworkPolicy } from './types.js'

/** A parsed JSON value as a NetworkPolicy: mode checked, presets expanded, every entry valid. */
export function parsePolicy(value: unknown, source: string): NetworkPolicy {
  const bad = (why: string): SafeCoderError =>
    new SafeCoderError('CONFIG_INVALID', `Invalid network policy in ${source}: ${why}.`, {
      hint: 'Write {"mode": "none" | "allowlist" | "open", "allow": [hosts], "deny": [hosts]}.',
      data: { source },
    })
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('it is not a JSON object')
  }
  const record = value as Record<string, unknown>
  const mode = record.mode
  if (mode !== 'none' && mode !== 'allowlist' && mode !== 'open') {
    throw bad(mode === undefined ? '"mode" is missing' : `"mode" is ${JSON.stringify(mode)}`)
  }
  const list = (key: 'allow' | 'deny'): string[] => {
    const entries = record[key] ?? []
    if (!Array.isArray(entries) || !entries.every((e): e is string => typeof e === 'string')) {
      throw bad(`"${key}" is not a list of strings`)
    }
    const expanded = expandPresets(entries)
    for (const entry of expanded) parseDestination(entry)
    return expanded
  }
  return { mode, allow: list('allow'), deny: list('deny') }
}

export function readPolicyFile(file: string): NetworkPolicy {
  let value: unknown
  try {
    value = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new SafeCoderError('CONFIG_INVALID', `Cannot read the network policy ${file}.`, {
      hint: 'The host writes this file; it must exist and hold JSON.',
      cause: error,
      data: { file },
    })
  }
  return parsePolicy(value, file)
}

export interface PolicyFileOptions {
  /** A re-read failed (the last good policy stays); told once per distinct message. */
  onError: (message: string) => void
  now?: () => number
  /** Stat the file at most this often. Default 1 s. */
  intervalMs?: number
}

function describeError(error: unknown): string {
  const info = toErrorInfo(error)
  return info.cause === undefined ? info.message : `${info.message} (${info.cause})`
}

/**
 * The policy in `file`, re-read when its mtime, size or inode changes. Throws when the first read
 * fails; a later bad read keeps the last good policy. (A file bind-mounted on its own keeps its
 * inode: the host must rewrite it in place, or mount its folder, for changes to be seen.)
 */
export function watchPolicyFile(file: string, options: PolicyFileOptions): () => NetworkPolicy {
  const now = options.now ?? Date.now
  const intervalMs = options.intervalMs ?? 1000
  const stamp = (): string => {
    const s = statSync(file)
    return `${s.mtimeMs}:${s.ctimeMs}:${s.size}:${s.ino}`
  }
  let seen = stamp()
  let current = readPolicyFile(file)
  let checked = now()
  let lastError: string | undefined
  return () => {
    if (now() - checked < intervalMs) return current
    checked = now()
    try {
      const next = stamp()
      if (next !== seen) {
        current = readPolicyFile(file)
        seen = next
      }
      lastError = undefined
    } catch (error) {
      const message = describeError(error)
      if (message !== lastError) options.onError(message)
      lastError = message
    }
    return current
  }
}
