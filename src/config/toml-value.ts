import { isPlainObject } from './describe.js'

/** A value in TOML syntax, on one line, for the template and `config show`. */
export function formatTomlValue(value: unknown): string {
  // TOML basic strings share JSON's escapes, except that DEL must be escaped too.
  if (typeof value === 'string') return JSON.stringify(value).replace(/\x7f/g, '\\u007F')
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return `[${value.map(formatTomlValue).join(', ')}]`
  if (value instanceof Date) return value.toISOString()
  if (isPlainObject(value)) {
    const entries = Object.entries(value).map(([k, v]) => `${k} = ${formatTomlValue(v)}`)
    return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`
  }
  return String(value)
}

/**
 * `key = value` as lines no wider than `width` where possible: an array too long for one line
 * is spread over several, its items packed.
 */
export function formatTomlEntry(key: string, value: unknown, width: number): string[] {
  const inline = `${key} = ${formatTomlValue(value)}`
  if (!Array.isArray(value) || inline.length <= width) return [inline]
  const lines = [`${key} = [`]
  let line = ''
  for (const item of value.map(formatTomlValue)) {
    const next = line === '' ? `  ${item},` : `${line} ${item},`
    if (next.length > width && line !== '') {
      lines.push(line)
      line = `  ${item},`
    } else {
      line = next
    }
  }
  if (line !== '') lines.push(line)
  lines.push(']')
  return lines
}
