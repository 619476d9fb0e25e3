/**
 * Column arithmetic for pane rows: how wide text is on screen and how to cut or pad it to a
 * column, so rows line up (side-by-side diffs, tables) even with CJK text in them.
 */

const plain = /^[\x20-\x7e]*$/

// Wide (two-column) ranges of Unicode 11, simplified: CJK, Hangul, fullwidth forms, emoji.
function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  )
}

function charWidth(code: number): number {
  if (code >= 0x300 && code <= 0x36f) return 0
  return isWide(code) ? 2 : 1
}

/** Columns the text takes on screen (no tags in it). */
export function displayWidth(text: string): number {
  let width = 0
  for (const ch of text) width += charWidth(ch.codePointAt(0) ?? 0)
  return width
}

/** Cuts text to at most `width` columns (a wide character that would straddle is dropped). */
export function clip(text: string, width: number): string {
  if (text.length <= width && plain.test(text)) return text
  let used = 0
  let out = ''
  for (const ch of text) {
    const w = charWidth(ch.codePointAt(0) ?? 0)
    if (used + w > width) break
    used += w
    out += ch
  }
  return out
}

/** Cuts or pads text with spaces to exactly `width` columns. */
export function fit(text: string, width: number): string {
  const cut = clip(text, width)
  return cut + ' '.repeat(Math.max(0, width - displayWidth(cut)))
}

/** Right-aligns text in `width` columns (cutting it when longer). */
export function fitRight(text: string, width: number): string {
  const cut = clip(text, width)
  return ' '.repeat(Math.max(0, width - displayWidth(cut))) + cut
}

/** Keeps the end of text (paths: the file name matters most), marking the cut with `…`. */
export function clipStart(text: string, width: number): string {
  if (displayWidth(text) <= width) return text
  if (width <= 1) return clip('…', width)
  // Code points are what the width rules above measure (the reducer already replaced emoji).
  const chars = Array.from(text)
  let used = 1
  let start = chars.length
  while (start > 0) {
    const w = charWidth(chars[start - 1]?.codePointAt(0) ?? 0)
    if (used + w > width) break
    used += w
    start--
  }
  return '…' + chars.slice(start).join('')
}
