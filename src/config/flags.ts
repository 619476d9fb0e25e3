import { layerValues } from './merge.js'
import { schemaNodeAt } from './schema-info.js'
import type { ConfigLayer, LoadConfigOptions } from './types.js'
import { validateLayer } from './validate.js'

/**
 * One validated layer per flag that was given. Command-line values arrive as text, so a number
 * or boolean key accepts "4096" or "true"; anything else is validated as given.
 */
export function flagLayers(flags: NonNullable<LoadConfigOptions['flags']>): ConfigLayer[] {
  return Object.entries(flags).flatMap(([keyPath, { value, flag }]) => {
    if (value === undefined) return []
    const origin = { kind: 'flag', flag } as const
    const coerced = coerceFlagValue(keyPath, value)
    return [{ origin, values: validateLayer(layerValues(keyPath, coerced), origin) }]
  })
}

function coerceFlagValue(keyPath: string, value: unknown): unknown {
  if (typeof value !== 'string') return value
  const type = schemaNodeAt(keyPath.split('.'))?.type
  if ((type === 'number' || type === 'integer') && /^-?\d+(\.\d+)?$/.test(value.trim()))
    return Number(value)
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
  return value
}
