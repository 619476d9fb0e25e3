import { fileURLToPath } from 'node:url'
import { parse } from 'smol-toml'
import { describe, expect, it } from 'vitest'
import { configSchema, configTemplate } from '../../../src/config/index.js'
import { configLeaves, defaultConfig } from '../../../src/config/schema-info.js'

const examplePath = fileURLToPath(new URL('../../../.safecoderrc.example', import.meta.url))

// Uncomments "# key = value" lines (and the continuation lines of an array) for the keys
// `include` accepts.
function uncomment(template: string, include: (key: string) => boolean): string {
  let open = false
  return template
    .split('\n')
    .map((line) => {
      const entry = /^# ([a-z_]+) = (.*)$/.exec(line)
      if (entry !== null && include(entry[1] ?? '')) {
        open = entry[2] === '['
        return line.slice(2)
      }
      if (open) {
        if (line === '# ]') open = false
        return line.slice(2)
      }
      return line
    })
    .join('\n')
}

describe('config template', () => {
  // After changing the schema or the docs: npx vitest run test/unit/config/template.test.ts -u
  it('is what .safecoderrc.example holds', async () => {
    await expect(configTemplate()).toMatchFileSnapshot(examplePath)
  })

  it('parses, as written, to exactly the defaults', () => {
    expect(configSchema.parse(parse(configTemplate()))).toEqual(defaultConfig())
  })

  it('shows every default correctly: uncommented, it still parses to exactly the defaults', () => {
    const defaults = defaultConfig() as Record<string, Record<string, unknown>>
    const hasDefault = new Set(
      configLeaves()
        .filter((leaf) => defaults[leaf.section]?.[leaf.key] !== undefined)
        .map((leaf) => leaf.key),
    )
    const text = uncomment(configTemplate(), (key) => hasDefault.has(key))
    const parsed = parse(text) as Record<string, Record<string, unknown>>
    expect(configSchema.parse(parsed)).toEqual(defaults)
    for (const leaf of configLeaves())
      expect(parsed[leaf.section]?.[leaf.key], leaf.path).toEqual(
        defaults[leaf.section]?.[leaf.key],
      )
  })

  it('documents every key, with examples that are valid values', () => {
    const text = uncomment(configTemplate(), () => true)
    const parsed = parse(text) as Record<string, Record<string, unknown>>
    for (const leaf of configLeaves())
      expect(parsed[leaf.section], leaf.path).toHaveProperty(leaf.key)
    expect(configSchema.safeParse(parsed).success).toBe(true)
  })

  it('keeps comment lines within 100 columns', () => {
    const long = configTemplate()
      .split('\n')
      .filter((line) => line.length > 100)
    expect(long).toEqual([])
  })
})
