/** Keys whose values are never echoed back, not even in error messages. */
const secretKeys = new Set(['api_key'])

/** True for the objects config files produce (tables), not arrays, dates or class instances. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** The value at a key path inside raw config data, if there is one. */
export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data
  for (const step of path) {
    if (Array.isArray(value) && typeof step === 'number') value = value[step]
    else if (isPlainObject(value)) value = value[String(step)]
    else return undefined
  }
  return value
}

/** Whether a key path names a secret (its value must not be printed). */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((step) => typeof step === 'string' && secretKeys.has(step))
}

/** A key path the way a TOML file spells it: `[docker] memory_mb`, `[image] packages[3]`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  const [section, ...rest] = path
  if (section === undefined) return 'the top level'
  const key = rest
    .map((step, i) =>
      typeof step === 'number' ? `[${step}]` : `${i === 0 ? '' : '.'}${String(step)}`,
    )
    .join('')
  return key === '' ? `[${String(section)}]` : `[${String(section)}] ${key}`
}

/** What was found instead of a valid value: `"lots" (a string)`, `[1, 2] (an array)`. */
export function describeFound(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (typeof value === 'string') {
    if (secret) return `a string of ${value.length} characters`
    return `${JSON.stringify(truncate(value))} (a string)`
  }
  if (secret) return `a value of type ${typeof value}`
  if (typeof value === 'number' || typeof value === 'bigint') return `${value} (a number)`
  if (typeof value === 'boolean') return `${value} (a boolean)`
  if (Array.isArray(value)) return `${truncate(safeJson(value))} (an array)`
  if (value instanceof Date) return `${value.toISOString()} (a date)`
  if (isPlainObject(value)) return 'a table'
  return `a ${typeof value}`
}

/** The candidate a misspelt name most likely meant, if one is close enough to suggest. */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

// Levenshtein distance over two rolling rows.
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

function truncate(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}
