import { redactConfig } from './redact.js'
import type { Config } from './schema.js'
import { configLeaves, type ConfigLeaf } from './schema-info.js'
import { formatTomlEntry } from './toml-value.js'
import type { ConfigOrigin, LoadedConfig } from './types.js'

const indent = '  '
const valueWidth = 76
const commentColumnLimit = 44

/** An origin as `config show` prints it: `default`, a path, `env X`, `flag --x`. */
export function describeOrigin(origin: ConfigOrigin): string {
  switch (origin.kind) {
    case 'default':
      return 'default'
    case 'file':
      return origin.path
    case 'env':
      return `env ${origin.variable}`
    case 'flag':
      return `flag ${origin.flag}`
  }
}

/**
 * `config show`: every key with its value and where the value came from, as TOML that could be
 * pasted into a config file. Secrets are redacted.
 */
export function formatConfigReport(loaded: LoadedConfig): string {
  const config = redactConfig(loaded.config) as Record<string, Record<string, unknown>>
  const lines =
    loaded.files.length === 0
      ? ['# No configuration file was read: values are defaults, environment variables or flags.']
      : [
          '# Configuration files, lowest precedence first:',
          ...loaded.files.map((f) =>
            f === loaded.project?.file && loaded.project.trusted
              ? `#   ${f}  (trusted with \`safe-coder trust\`: it may widen your settings)`
              : `#   ${f}`,
          ),
        ]
  lines.push('# Precedence: default < user file < project file < environment < flag')
  const bySection = new Map<string, ConfigLeaf[]>()
  for (const leaf of configLeaves())
    bySection.set(leaf.section, [...(bySection.get(leaf.section) ?? []), leaf])
  for (const [section, leaves] of bySection) {
    const entries = leaves.map((leaf) => {
      const value = config[section]?.[leaf.key]
      if (value === undefined) return { lines: [`# ${leaf.key} (not set)`], origin: undefined }
      const origin = describeOrigin(loaded.origins[leaf.path] ?? { kind: 'default' })
      return { lines: formatTomlEntry(leaf.key, value, valueWidth), origin }
    })
    const column = Math.min(
      commentColumnLimit,
      Math.max(...entries.map((e) => (e.origin === undefined ? 0 : (e.lines[0]?.length ?? 0)))),
    )
    lines.push('', `[${section}]`)
    for (const { lines: entryLines, origin } of entries) {
      entryLines.forEach((line, i) => {
        const comment = i === 0 && origin !== undefined ? `  # ${origin}` : ''
        lines.push(`${indent}${comment === '' ? line : line.padEnd(column)}${comment}`)
      })
    }
  }
  return `${lines.join('\n')}\n`
}

/** `config show --json`: `{ config, origins, files }`, secrets redacted. */
export function configReportJson(loaded: LoadedConfig): {
  config: Config
  origins: LoadedConfig['origins']
  files: string[]
} {
  return { config: redactConfig(loaded.config), origins: loaded.origins, files: loaded.files }
}
