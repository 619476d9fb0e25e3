import { isDeepStrictEqual } from 'node:util'
import { SafeCoderError } from '../shared/errors.js'
import { formatKeyPath, isSecretPath } from './describe.js'
import { keyRule, type KeyRule } from './key-rules.js'
import type { Config } from './schema.js'
import { configLeaves } from './schema-info.js'
import { formatTomlValue } from './toml-value.js'

/** One project's configuration, and the project it belongs to (for messages). */
export interface ProjectConfig {
  projectDir: string
  config: Config
}

/**
 * The configuration several projects share when one process runs them all (the dashboard with
 * several `-p`): each key narrowed as far as any of them narrows it (the lowest limit, the
 * strictest approval, every added list item), so no project's narrowing is lost. Each project's
 * `[workspace] exclude` still applies to its own copy (patterns are relative to its root).
 * Keys no project may set differ only when trusted files set them: that is an error.
 */
export function combineConfigs(projects: readonly ProjectConfig[]): Config {
  const [first] = projects
  if (first === undefined) throw new Error('combineConfigs needs at least one project')
  const combined = structuredClone(first.config) as Record<string, Record<string, unknown>>
  for (const { section, key } of configLeaves()) {
    const rule = keyRule(section, key)
    const values = projects.map(
      (p) => (p.config as Record<string, Record<string, unknown>>)[section]?.[key],
    )
    if (rule === undefined || values.every((v) => isDeepStrictEqual(v, values[0]))) continue
    const target = combined[section] ?? {}
    target[key] = strictest(rule, values, () => conflict(section, key, projects, values))
    combined[section] = target
  }
  return combined as Config
}

/** `[section] key = value` for every key on which `other` is stricter than `base`. */
export function stricterKeys(base: Config, other: Config): string[] {
  const combined = combineConfigs([
    { projectDir: '', config: base },
    { projectDir: '', config: other },
  ]) as Record<string, Record<string, unknown>>
  const was = base as Record<string, Record<string, unknown>>
  return configLeaves()
    .filter(({ section, key }) => !(section === 'workspace' && key === 'exclude'))
    .filter(({ section, key }) => !isDeepStrictEqual(combined[section]?.[key], was[section]?.[key]))
    .map(
      ({ section, key }) =>
        `${formatKeyPath([section, key])} = ${formatTomlValue(combined[section]?.[key])}`,
    )
}

function strictest(rule: KeyRule, values: unknown[], onConflict: () => never): unknown {
  switch (rule.kind) {
    case 'at-most': {
      const numbers = values.filter((v): v is number => typeof v === 'number')
      return numbers.length === 0 ? undefined : Math.min(...numbers)
    }
    case 'stricter':
      return values.reduce((a, b) =>
        rule.order.indexOf(String(b)) > rule.order.indexOf(String(a)) ? b : a,
      )
    case 'only':
      return values.includes(rule.value) ? rule.value : values[0]
    case 'adds':
      return [...new Set(values.flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [])))]
    case 'free':
      return values[0]
    case 'user-only':
      return onConflict()
  }
}

function conflict(
  section: string,
  key: string,
  projects: readonly ProjectConfig[],
  values: unknown[],
): never {
  const name = formatKeyPath([section, key])
  const show = (v: unknown): string =>
    isSecretPath([section, key]) ? '(hidden)' : v === undefined ? 'not set' : formatTomlValue(v)
  const each = projects.map((p, i) => `${p.projectDir}: ${show(values[i])}`)
  throw new SafeCoderError(
    'USAGE',
    `These projects cannot share one process: their trusted config files set ${name} differently (${each.join('; ')}).`,
    {
      hint: 'Open them in separate dashboards, one -p each.',
      data: { key: `${section}.${key}` },
    },
  )
}
