import { diff3Merge } from 'node-diff3'
import { decodeText } from '../shared/text-content.js'

/**
 * A line-based three-way merge of the host's and the session's versions against the base, with
 * git-style conflict markers (host first, then the base, then the session). Undefined when any
 * side is binary or not UTF-8: those conflicts are left for the user.
 */
export function mergeText(
  base: Uint8Array,
  host: Uint8Array,
  session: Uint8Array,
): { text: string; conflicts: number } | undefined {
  const sides = [base, host, session].map(decodeText)
  const [o, a, b] = sides
  if (o === undefined || a === undefined || b === undefined) return undefined
  const out: string[] = []
  let conflicts = 0
  for (const region of diff3Merge(splitLines(a), splitLines(o), splitLines(b), {
    excludeFalseConflicts: true,
  })) {
    if (region.ok !== undefined) out.push(...region.ok)
    else if (region.conflict !== undefined) {
      conflicts++
      out.push('<<<<<<< host\n', ...terminated(region.conflict.a))
      out.push('||||||| base\n', ...terminated(region.conflict.o))
      out.push('=======\n', ...terminated(region.conflict.b), '>>>>>>> session\n')
    }
  }
  return { text: out.join(''), conflicts }
}

/** Lines with their `\n`, so the merge gives back exactly the bytes it was given. */
function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/)
}

/** A last line without `\n` gets one, so the marker after it starts a line of its own. */
function terminated(lines: string[]): string[] {
  const last = lines.at(-1)
  return last === undefined || last.endsWith('\n') ? lines : [...lines.slice(0, -1), `${last}\n`]
}
