/** A commit message split the way the audit repository writes it. */
export interface ParsedMessage {
  subject: string
  /** The text between the subject and the trailers, trimmed. */
  body: string
  trailers: Record<string, string>
}

const trailerLine = /^([A-Za-z0-9][A-Za-z0-9-]*):\s?(.*)$/

// Trailers are the last paragraph when every line of it is `Key: value` (git's strict rule).
export function parseMessage(message: string): ParsedMessage {
  const [subject = '', ...rest] = message.replace(/\r\n/g, '\n').split('\n')
  const paragraphs = rest
    .join('\n')
    .trim()
    .split(/\n{2,}/)
  const last = paragraphs.at(-1) ?? ''
  const trailers: Record<string, string> = {}
  const lines = last.split('\n')
  const matches = lines.map((line) => trailerLine.exec(line))
  if (last !== '' && matches.every((match) => match !== null)) {
    for (const match of matches) {
      if (match[1] !== undefined) trailers[match[1]] = (match[2] ?? '').trim()
    }
    paragraphs.pop()
  }
  return { subject: subject.trim(), body: paragraphs.join('\n\n').trim(), trailers }
}
