/** Longest line shown to the model; longer ones (minified code, data) are cut. */
export const MAX_LINE_CHARS = 2000

const decoder = new TextDecoder('utf-8', { fatal: true })

/** The file's text, or undefined when it is binary (a NUL byte, or not UTF-8). */
export function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined
  try {
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}

/** Lines of a text; a final newline does not start another line. */
export function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

/** `   12\tcode`: a line as the model reads it, cut when very long. */
export function numberedLine(lineNo: number, line: string): string {
  const shown = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… [line cut]` : line
  return `${String(lineNo).padStart(5)}\t${shown.replace(/\r$/, '')}`
}

/** "1 line", "3 lines", "2 entries". */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? noun : nouns}`
}
