import { z } from 'zod'
import { configSchema, type Config } from './schema.js'

/** The part of JSON Schema that `z.toJSONSchema` produces for the config schema. */
export interface SchemaNode {
  type?: string
  enum?: unknown[]
  properties?: Record<string, SchemaNode>
  items?: SchemaNode
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  minLength?: number
  format?: string
  pattern?: string
  default?: unknown
}

/** A key inside a section: `docker.memory_mb`. */
export interface ConfigLeaf {
  section: string
  key: string
  path: string
  node: SchemaNode
}

let root: SchemaNode | undefined

// JSON Schema is zod's public description of a schema, so messages and the template need no
// access to zod internals.
function rootNode(): SchemaNode {
  root ??= z.toJSONSchema(configSchema, { io: 'input' }) as SchemaNode
  return root
}

/** Every section name, in schema order. */
export function configSectionNames(): string[] {
  return Object.keys(rootNode().properties ?? {})
}

/** The key names of one section, in schema order. */
export function configKeyNames(section: string): string[] {
  return Object.keys(rootNode().properties?.[section]?.properties ?? {})
}

/** Every leaf key of the schema, in the order files and `config show` list them. */
export function configLeaves(): ConfigLeaf[] {
  return Object.entries(rootNode().properties ?? {}).flatMap(([section, sectionNode]) =>
    Object.entries(sectionNode.properties ?? {}).map(([key, node]) => ({
      section,
      key,
      path: `${section}.${key}`,
      node,
    })),
  )
}

/** The schema of the value at a key path (numbers step into arrays), if the path exists. */
export function schemaNodeAt(path: readonly PropertyKey[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = rootNode()
  for (const step of path) {
    if (node === undefined) return undefined
    node = typeof step === 'number' ? node.items : node.properties?.[String(step)]
  }
  return node
}

/** The configuration with nothing set: every default. */
export function defaultConfig(): Config {
  return configSchema.parse({})
}

/** What a valid value looks like, for "must be …": `an integer ≥ 64`, `one of "a", "b"`. */
export function describeExpected(node: SchemaNode): string {
  if (node.enum !== undefined) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`
  switch (node.type ?? '') {
    case 'boolean':
      return 'true or false'
    case 'integer':
      return withBounds('an integer', node)
    case 'number':
      return withBounds('a number', node)
    case 'string':
      if (node.format === 'uri') return 'an http:// or https:// URL'
      if (node.pattern !== undefined) return `a string matching /${node.pattern}/`
      return node.minLength !== undefined && node.minLength > 0 ? 'a non-empty string' : 'a string'
    case 'array':
      return node.items?.type === 'string' ? 'an array of strings' : 'an array'
    case 'object':
      return 'a table of settings'
    default:
      return 'a valid value'
  }
}

function withBounds(noun: string, node: SchemaNode): string {
  // zod writes int() as "≤ MAX_SAFE_INTEGER", which is not a limit worth printing.
  const max =
    node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined
  if (node.minimum !== undefined && max !== undefined)
    return `${noun} from ${node.minimum} to ${max}`
  const bounds = [
    node.minimum === undefined ? undefined : `≥ ${node.minimum}`,
    node.exclusiveMinimum === undefined ? undefined : `> ${node.exclusiveMinimum}`,
    max === undefined ? undefined : `≤ ${max}`,
    node.exclusiveMaximum === undefined ? undefined : `< ${node.exclusiveMaximum}`,
  ].filter((b) => b !== undefined)
  return bounds.length === 0 ? noun : `${noun} ${bounds.join(' and ')}`
}
