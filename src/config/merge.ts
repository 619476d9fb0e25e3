import { isPlainObject } from './describe.js'
import { configLeaves } from './schema-info.js'
import type { ConfigLayer, ConfigOrigin } from './types.js'

/** The merged raw values of several layers, and the layer each leaf came from. */
export interface MergedLayers {
  raw: Record<string, unknown>
  origins: Record<string, ConfigOrigin>
}

/**
 * Merges layers lowest first: objects merge key by key, everything else (arrays included)
 * replaces. Every leaf of the schema gets an origin, `default` where no layer set it.
 */
export function mergeLayers(layers: readonly ConfigLayer[]): MergedLayers {
  const origins: Record<string, ConfigOrigin> = {}
  for (const leaf of configLeaves()) origins[leaf.path] = { kind: 'default' }
  const raw: Record<string, unknown> = {}
  for (const layer of layers) {
    mergeInto(raw, layer.values)
    for (const path of leafPaths(layer.values)) origins[path] = layer.origin
  }
  return { raw, origins }
}

/** A layer holding one value at a dotted key path: `docker.image` → { docker: { image } }. */
export function layerValues(keyPath: string, value: unknown): Record<string, unknown> {
  return keyPath
    .split('.')
    .reduceRight<unknown>((inner, step) => ({ [step]: inner }), value) as Record<string, unknown>
}

function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue
    const current = target[key]
    if (isPlainObject(value)) {
      const merged = isPlainObject(current) ? current : {}
      mergeInto(merged, value)
      target[key] = merged
    } else {
      target[key] = value
    }
  }
}

function leafPaths(values: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(values).flatMap(([key, value]) => {
    if (value === undefined) return []
    const path = `${prefix}${key}`
    return isPlainObject(value) ? leafPaths(value, `${path}.`) : [path]
  })
}
