/** "… [cut 12,345 characters; narrow the request]": what was dropped and what to do instead. */
export function cutMarker(count: number, unit: string, advice: string): string {
  return `… [cut ${count.toLocaleString('en-US')} ${unit}; ${advice}]`
}

export interface TruncateOptions {
  /** What the model should do to see less (default "narrow the request"). */
  advice?: string
  /** Keep the start (default), or the start and the end with the cut in the middle. */
  keep?: 'head' | 'ends'
}

/** Cuts `text` to at most `maxChars` characters, the marker included. */
export function truncateText(
  text: string,
  maxChars: number,
  options: TruncateOptions = {},
): string {
  if (text.length <= maxChars) return text
  const advice = options.advice ?? 'narrow the request'
  // The marker's own length depends on the count; size it for the largest count it can show.
  const room = Math.max(0, maxChars - cutMarker(text.length, 'characters', advice).length - 2)
  const cut = text.length - room
  const marker = cutMarker(cut, 'characters', advice)
  if (options.keep === 'ends') {
    const head = Math.ceil(room / 2)
    return `${text.slice(0, head)}\n${marker}\n${text.slice(text.length - (room - head))}`
  }
  return `${text.slice(0, room)}\n${marker}`
}
