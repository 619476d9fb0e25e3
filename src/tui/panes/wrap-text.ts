import { displayWidth } from './text-fit.js'

/** Word-wraps text to `width` columns; newlines start new rows, over-long words are split. */
export function wrapText(text: string, width: number): string[] {
  const rows: string[] = []
  for (const paragraph of text.split('\n')) {
    let row = ''
    let used = 0
    for (const word of paragraph.split(/(?<=\s)(?=\S)/)) {
      const w = displayWidth(word)
      if (used + displayWidth(word.trimEnd()) <= width) {
        row += word
        used += w
        continue
      }
      if (row !== '') rows.push(row.trimEnd())
      ;[row, used] = splitLong(word, width, rows)
    }
    rows.push(row.trimEnd())
  }
  return rows
}

/** Pushes full-width pieces of a word longer than the row; returns the rest and its width. */
function splitLong(word: string, width: number, rows: string[]): [string, number] {
  let piece = ''
  let used = 0
  for (const ch of word) {
    const w = displayWidth(ch)
    if (used + w > width && piece !== '' && ch.trim() !== '') {
      rows.push(piece)
      piece = ''
      used = 0
    }
    piece += ch
    used += w
  }
  return [piece, used]
}
