import type { z } from 'zod'
import { SafeCoderError } from '../shared/errors.js'
import {
  closestName,
  describeFound,
  formatKeyPath,
  isPlainObject,
  isSecretPath,
  valueAt,
} from './describe.js'
import { configSchema } from './schema.js'
import {
  configKeyNames,
  configSectionNames,
  describeExpected,
  schemaNodeAt,
} from './schema-info.js'
import type { LayerSource } from './types.js'

/** One thing wrong with a layer, in the words the error message uses. */
export interface ConfigProblem {
  /** A misspelt or misplaced key, rather than a bad value. */
  unknownKey?: boolean
  key: string
  expected: string
  found: string
  text: string
}

const showHint = 'run `safe-coder config show` to see every key and its default.'

/**
 * Checks one layer on its own, so that a bad value is reported against the file, variable or
 * flag that set it. Returns the raw values (defaults are applied once, after merging).
 */
export function validateLayer(raw: unknown, source: LayerSource): Record<string, unknown> {
  if (raw === undefined || raw === null) return {}
  if (!isPlainObject(raw)) {
    const expected = 'a table of sections such as [docker]'
    const found = describeFound(raw)
    const text = `the top level must be ${expected}, found ${found}`
    throw configError(source, [{ key: 'the top level', expected, found, text }])
  }
  const result = configSchema.safeParse(raw)
  if (result.success) return raw
  throw configError(source, describeIssues(raw, result.error.issues))
}

/** Turns zod issues into problems that name the TOML key, the expectation and what was found. */
export function describeIssues(raw: unknown, issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => unknownKeyProblem(raw, issue.path, key))
    const path = issue.path
    const node = schemaNodeAt(path)
    // Custom messages in the schema are phrased as expectations ("a Debian package name").
    const custom = issue.code === 'invalid_format' && issue.format === 'regex'
    const expected = custom || node === undefined ? issue.message : describeExpected(node)
    const found = describeFound(valueAt(raw, path), isSecretPath(path))
    const key = formatKeyPath(path)
    return [{ key, expected, found, text: `${key} must be ${expected}, found ${found}` }]
  })
}

/** The error for a layer with problems: names the source, then every problem. */
export function configError(
  source: LayerSource,
  problems: readonly ConfigProblem[],
): SafeCoderError {
  const [first, ...more] = problems
  const message = `Invalid configuration in ${describeSource(source)}: ${problems.map((p) => p.text).join('; ')}.`
  const data: Record<string, unknown> = { ...sourceData(source) }
  if (first !== undefined)
    Object.assign(data, { key: first.key, expected: first.expected, found: first.found })
  if (more.length > 0)
    data.problems = problems.map(({ key, expected, found }) => ({ key, expected, found }))
  const hint = hintFor(source, first?.unknownKey === true)
  return new SafeCoderError('CONFIG_INVALID', message, { hint, data })
}

/** A source as error messages name it: a path, `environment variable X`, `flag --x`. */
export function describeSource(source: LayerSource): string {
  switch (source.kind) {
    case 'file':
      return source.path
    case 'env':
      return `environment variable ${source.variable}`
    case 'flag':
      return `flag ${source.flag}`
  }
}

function sourceData(source: LayerSource): Record<string, string> {
  switch (source.kind) {
    case 'file':
      return { file: source.path }
    case 'env':
      return { variable: source.variable }
    case 'flag':
      return { flag: source.flag }
  }
}

function hintFor(source: LayerSource, unknownKey: boolean): string {
  switch (source.kind) {
    case 'file':
      return `Fix the ${unknownKey ? 'key name' : 'value'}, or ${showHint}`
    case 'env':
      return `Set ${source.variable} to an allowed value, or unset it.`
    case 'flag':
      return `Pass an allowed value to ${source.flag}.`
  }
}

function unknownKeyProblem(
  raw: unknown,
  parent: readonly PropertyKey[],
  name: string,
): ConfigProblem {
  const sections = configSectionNames()
  const [section] = parent
  if (section === undefined) {
    const table = isPlainObject(valueAt(raw, [name]))
    const suggestion = table
      ? closestSection(name, sections)
      : (sectionOwning(name, sections) ?? closestSection(name, sections))
    const text = table ? `unknown section [${name}]` : `unknown key ${name} at the top level`
    return {
      unknownKey: true,
      key: table ? `[${name}]` : name,
      expected: `one of the sections ${sections.map((s) => `[${s}]`).join(', ')}`,
      found: JSON.stringify(name),
      text: `${text}${didYouMean(suggestion)}`,
    }
  }
  const keys = configKeyNames(String(section))
  const sibling = closestName(name, keys)
  const suggestion = sibling ?? sectionOwning(name, sections)
  const key = formatKeyPath([...parent, name])
  return {
    unknownKey: true,
    key,
    expected: `one of the keys of [${String(section)}]: ${keys.join(', ')}`,
    found: JSON.stringify(name),
    text: `unknown key ${key}${didYouMean(suggestion)}`,
  }
}

function closestSection(name: string, sections: readonly string[]): string | undefined {
  const section = closestName(name, sections)
  return section === undefined ? undefined : `[${section}]`
}

// A key written in the wrong place (`backend` at the top level) is found in the section owning it.
function sectionOwning(name: string, sections: readonly string[]): string | undefined {
  const owner = sections.find((section) => configKeyNames(section).includes(name))
  return owner === undefined ? undefined : `[${owner}] ${name}`
}

function didYouMean(suggestion: string | undefined): string {
  return suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`
}
