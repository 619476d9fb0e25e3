import { formatBytes } from '../shared/format.js'
import { decodeText, hasEarlyNul } from '../shared/text-content.js'

/** What a diff may show of one side of a file. */
export type SideContent =
  | { kind: 'absent' }
  | { kind: 'text'; text: string; size: number }
  | { kind: 'binary'; size: number }
  | { kind: 'tooLarge'; size: number; note?: string; placeholder?: true }

const maxNoteChars = 200

// Binary exactly as the sync plan flags it (shared/text-content.ts); a huge file is not decoded.
export function classifyBytes(bytes: Uint8Array, maxBytes: number): SideContent {
  if (hasEarlyNul(bytes)) return { kind: 'binary', size: bytes.length }
  if (bytes.length > maxBytes) return { kind: 'tooLarge', size: bytes.length }
  const text = decodeText(bytes)
  return text === undefined
    ? { kind: 'binary', size: bytes.length }
    : { kind: 'text', text, size: bytes.length }
}

/** A placeholder's own text, cut to one line, stands for the file that was too large to keep. */
export function placeholderContent(bytes: Uint8Array): SideContent {
  const text = new TextDecoder('utf-8').decode(bytes.subarray(0, 4 * maxNoteChars))
  const line = text.split('\n', 1)[0] ?? ''
  const note = Array.from(line.replace(/\p{Cc}/gu, ' ').trim())
    .slice(0, maxNoteChars)
    .join('')
  return note === ''
    ? { kind: 'tooLarge', size: 0, placeholder: true }
    : { kind: 'tooLarge', size: 0, note, placeholder: true }
}

/** The one-line summary shown instead of the content of a binary or huge file. */
export function summarise(before: SideContent, after: SideContent): string | undefined {
  const notes = [after, before].flatMap((side) =>
    side.kind === 'tooLarge' && side.note !== undefined ? [side.note] : [],
  )
  if (notes[0] !== undefined) return notes[0]
  const what =
    before.kind === 'tooLarge' || after.kind === 'tooLarge'
      ? 'Large file, not shown'
      : before.kind === 'binary' || after.kind === 'binary'
        ? 'Binary file'
        : undefined
  if (what === undefined) return undefined
  const sizes = [before, after].flatMap((side) =>
    side.kind === 'absent' ? [] : [formatBytes(side.size)],
  )
  return `${what} (${sizes.join(' → ')})`
}
