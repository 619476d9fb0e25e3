import { SafeCoderError } from '../shared/errors.js'
import { formatKeyPath, isPlainObject, isSecretPath } from './describe.js'
import { keyRule, type KeyRule } from './key-rules.js'
import type { Config } from './schema.js'
import { formatTomlValue } from './toml-value.js'
import type { ConfigOrigin } from './types.js'

/** What a project file's values are checked against: the defaults and the user file. */
export interface ProjectBaseline {
  config: Config
  origins: Record<string, ConfigOrigin>
  userFile: string
}

/** A project file's values after its rules: what to merge, and what a trust let it widen. */
export interface RuledProjectValues {
  values: Record<string, unknown>
  /** `[docker] memory_mb = 8192`: what only a trusted file may set; the caller says so loudly. */
  widenings: string[]
}

/**
 * Applies the key rules of key-rules.ts to a found project file. A list a project adds to is
 * appended to the baseline's; anything that widens the sandbox or picks a program, image, path,
 * engine or endpoint is refused with every offending key named, unless the file is trusted
 * (`safe-coder trust`), in which case it applies and is listed in `widenings`.
 */
export function applyProjectRules(
  file: string,
  values: Record<string, unknown>,
  baseline: ProjectBaseline,
  trust: { trusted: boolean; projectDir: string; changedSince?: string },
): RuledProjectValues {
  const problems: Problem[] = []
  const ruled: Record<string, unknown> = {}
  for (const [section, table] of Object.entries(values)) {
    if (!isPlainObject(table)) continue
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(table)) {
      if (value === undefined) continue
      const rule = keyRule(section, key)
      const current = (baseline.config as Record<string, Record<string, unknown>>)[section]?.[key]
      if (rule?.kind === 'adds' && Array.isArray(value) && Array.isArray(current)) {
        out[key] = [...new Set([...(current as unknown[]), ...(value as unknown[])])]
        continue
      }
      out[key] = value
      const text = rule === undefined ? undefined : widening(rule, value, current)
      if (text === undefined) continue
      const name = formatKeyPath([section, key])
      const from = describeBaseline(baseline, `${section}.${key}`)
      // An API key set by a trusted file is reported, never printed.
      const shown = isSecretPath([section, key]) ? '(hidden)' : formatTomlValue(value)
      problems.push({
        key: name,
        setting: `${name} = ${shown}`,
        text:
          rule?.kind === 'user-only'
            ? `${name} may not be set in a project file: it ${rule.picks}`
            : `${name} = ${shown} ${text} ${formatTomlValue(current)}, ${from}`,
      })
    }
    ruled[section] = out
  }
  if (problems.length === 0) return { values: ruled, widenings: [] }
  if (trust.trusted) return { values: ruled, widenings: problems.map((p) => p.setting) }
  throw refusal(file, problems, baseline.userFile, trust)
}

interface Problem {
  key: string
  /** `[docker] memory_mb = 8192`, as a trusted widening is reported. */
  setting: string
  text: string
}

// How a value widens the baseline ("is above"), or undefined when it only narrows.
function widening(rule: KeyRule, value: unknown, current: unknown): string | undefined {
  switch (rule.kind) {
    case 'free':
    case 'adds':
      return undefined
    case 'user-only':
      return 'is set'
    case 'at-most':
      if (typeof value !== 'number' || typeof current !== 'number') return undefined
      return value > current ? 'is above' : undefined
    case 'stricter': {
      const [at, than] = [rule.order.indexOf(String(value)), rule.order.indexOf(String(current))]
      return at < than ? 'is looser than' : undefined
    }
    case 'only':
      return value !== rule.value && value !== current ? 'is looser than' : undefined
  }
}

function describeBaseline(baseline: ProjectBaseline, keyPath: string): string {
  const origin = baseline.origins[keyPath]
  return origin?.kind === 'file' ? `the value in ${origin.path}` : 'the default'
}

function refusal(
  file: string,
  problems: readonly Problem[],
  userFile: string,
  trust: { projectDir: string; changedSince?: string },
): SafeCoderError {
  const changed =
    trust.changedSince === undefined
      ? ''
      : ` (you trusted this file on ${trust.changedSince}, but it has changed since you trusted it)`
  return new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid configuration in ${file}: a project file may only narrow what you allow${changed}: ${problems.map((p) => p.text).join('; ')}.`,
    {
      hint: `Set ${problems.length === 1 ? 'it' : 'them'} in your user file ${userFile} (a project may only lower limits, tighten approval and add excludes), or, if you trust this project, review ${file} and run \`safe-coder trust ${trust.projectDir}\`.`,
      data: { file, userFile, keys: problems.map((p) => p.key) },
    },
  )
}
