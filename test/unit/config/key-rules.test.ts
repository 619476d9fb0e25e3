import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config/index.js'
import { keyRule, keyRules } from '../../../src/config/key-rules.js'
import { configLeaves, defaultConfig, type ConfigLeaf } from '../../../src/config/schema-info.js'
import { formatTomlValue } from '../../../src/config/toml-value.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'
import { makeConfigDirs } from './dirs.js'

const defaults = defaultConfig() as Record<string, Record<string, unknown>>
const defaultOf = (leaf: ConfigLeaf): unknown => defaults[leaf.section]?.[leaf.key]

/** A valid value of a user-only key other than its default, from its schema. */
function otherValue(leaf: ConfigLeaf): unknown {
  const node = leaf.node
  if (node.enum !== undefined) return node.enum.find((v) => v !== defaultOf(leaf))
  switch (node.type) {
    case 'string':
      return node.format === 'uri' ? 'https://elsewhere.example/v1' : 'chosen-by-project'
    case 'array':
      return ['netcat-openbsd']
    case 'object':
      return { quit: 'x' }
    case 'boolean':
      return defaultOf(leaf) !== true
    default:
      throw new Error(`no test value for ${leaf.path}: teach otherValue() its type`)
  }
}

/** Loads a project file holding `[section] key = value` over a user file. */
async function loadProject(leaf: ConfigLeaf, value: unknown, user = ''): Promise<unknown> {
  const dirs = await makeConfigDirs()
  if (user !== '') await dirs.write(dirs.userFile, user)
  await dirs.write(
    path.join(dirs.project, '.safecoderrc.toml'),
    `[${leaf.section}]\n${leaf.key} = ${formatTomlValue(value)}\n`,
  )
  return loadConfig({ cwd: dirs.project, env: dirs.env }).then(
    (loaded) =>
      (loaded.config as Record<string, Record<string, unknown>>)[leaf.section]?.[leaf.key],
    (error: unknown) => error,
  )
}

function expectRefused(result: unknown, leaf: ConfigLeaf): void {
  expect(isSafeCoderError(result, 'CONFIG_INVALID'), String(result)).toBe(true)
  const message = (result as Error).message
  expect(message).toContain(`[${leaf.section}] ${leaf.key}`)
  expect((result as { hint?: string }).hint).toMatch(/user file .*config\.toml/)
}

describe('every config key has a rule for project files', () => {
  it('classifies each schema key, and nothing else', () => {
    const leaves = configLeaves().map((l) => l.path)
    const unclassified = configLeaves().filter((l) => keyRule(l.section, l.key) === undefined)
    expect(unclassified.map((l) => l.path)).toEqual([])
    const classified = Object.entries(keyRules).flatMap(([section, rules]) =>
      Object.keys(rules).map((key) => `${section}.${key}`),
    )
    expect(classified.sort()).toEqual([...leaves].sort())
  })

  it('gives every at-most key a number type and every stricter key its enum', () => {
    for (const leaf of configLeaves()) {
      const rule = keyRule(leaf.section, leaf.key)
      if (rule?.kind === 'at-most')
        expect(['number', 'integer'], leaf.path).toContain(leaf.node.type)
      if (rule?.kind === 'stricter')
        expect([...rule.order].sort(), leaf.path).toEqual([...(leaf.node.enum ?? [])].sort())
      if (rule?.kind === 'only') expect(leaf.node.type, leaf.path).toBe('boolean')
      if (rule?.kind === 'adds') expect(leaf.node.type, leaf.path).toBe('array')
    }
  })
})

describe('a project file, key by key (from the table)', () => {
  const byKind = (kind: string): ConfigLeaf[] =>
    configLeaves().filter((l) => keyRule(l.section, l.key)?.kind === kind)

  it.each(byKind('user-only').map((l) => [l.path, l] as const))(
    'refuses user-only %s, naming it and the user file',
    async (_path, leaf) => {
      expectRefused(await loadProject(leaf, otherValue(leaf)), leaf)
    },
  )

  it.each(byKind('at-most').map((l) => [l.path, l] as const))(
    'lets %s go down but not up',
    async (_path, leaf) => {
      const current = defaultOf(leaf)
      if (typeof current !== 'number') {
        // Unset by default: there is nothing to exceed.
        expect(await loadProject(leaf, 4096)).toBe(4096)
        return
      }
      expect(await loadProject(leaf, current - 1)).toBe(current - 1)
      expectRefused(await loadProject(leaf, current + 1), leaf)
    },
  )

  it('compares with the user file, not only the defaults', async () => {
    const leaf = configLeaves().find((l) => l.path === 'docker.memory_mb') as ConfigLeaf
    const user = '[docker]\nmemory_mb = 1024\n'
    expect(await loadProject(leaf, 1024, user)).toBe(1024)
    const refused = await loadProject(leaf, 1536, user)
    expectRefused(refused, leaf)
    expect((refused as Error).message).toMatch(/1536 is above 1024, the value in .*config\.toml/)
  })

  it.each([
    ['agent.approval', 'auto', 'ask', 'deny'],
    ['network.mode', 'open', 'allowlist', 'none'],
  ])('lets %s only get stricter', async (keyPath, loose, middle, strict) => {
    const leaf = configLeaves().find((l) => l.path === keyPath) as ConfigLeaf
    const user = `[${leaf.section}]\n${leaf.key} = "${middle}"\n`
    expect(await loadProject(leaf, strict, user)).toBe(strict)
    expect(await loadProject(leaf, middle, user)).toBe(middle)
    expectRefused(await loadProject(leaf, loose, user), leaf)
  })

  it.each([
    ['docker.auto_pull', false],
    ['docker.read_only_root', true],
  ])('lets %s only be turned to %s', async (keyPath, strict) => {
    const leaf = configLeaves().find((l) => l.path === keyPath) as ConfigLeaf
    const line = (value: boolean): string => `[${leaf.section}]\n${leaf.key} = ${value}\n`
    expect(await loadProject(leaf, strict, line(!strict))).toBe(strict)
    expectRefused(await loadProject(leaf, !strict, line(strict)), leaf)
    // Restating what the user already has widens nothing.
    expect(await loadProject(leaf, !strict, line(!strict))).toBe(!strict)
  })

  it.each(byKind('adds').map((l) => [l.path, l] as const))(
    'adds %s to the user’s list',
    async (_path, leaf) => {
      const user = `[${leaf.section}]\n${leaf.key} = ["mine"]\n`
      expect(await loadProject(leaf, ['theirs', 'mine'], user)).toEqual(['mine', 'theirs'])
    },
  )

  it.each(byKind('free').map((l) => [l.path, l] as const))(
    'lets %s be set',
    async (_path, leaf) => {
      const value = leaf.node.type === 'boolean' ? defaultOf(leaf) !== true : 10
      expect(await loadProject(leaf, value)).toEqual(value)
    },
  )
})
