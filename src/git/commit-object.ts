import { SafeCoderError } from '../shared/errors.js'
import { visibleText } from './diff-escape.js'

/** Who every audit commit is by: the recorder, not the model or the user. */
export const auditIdentity = 'Safe Coder <safe-coder@localhost>'

/** A trailer key git's `interpret-trailers` recognises: letters, digits and dashes. */
const trailerKey = /^[A-Za-z0-9][A-Za-z0-9-]*$/

/**
 * The message of an audit commit: the caller's first line (later lines and surrounding blanks
 * dropped, so the subject can never forge trailers), a blank line, then `Key: value` trailers
 * with values folded onto one line.
 */
export function formatMessage(subject: string, trailers: Record<string, string> = {}): string {
  const first =
    subject
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? '(no message)'
  // Arguments come from the model: a NUL would make the object one git's fsck rejects, and other
  // controls would reach every terminal that shows the log. They are stored as visible escapes.
  const lines = Object.entries(trailers).map(([key, value]) => {
    if (!trailerKey.test(key)) {
      throw new SafeCoderError('INTERNAL', `Invalid commit trailer key ${JSON.stringify(key)}.`, {
        hint: 'Trailer keys are letters, digits and dashes.',
      })
    }
    return `${key}: ${visibleText(value.replace(/\s+/g, ' ').trim())}`
  })
  const shown = visibleText(first)
  return lines.length === 0 ? `${shown}\n` : `${shown}\n\n${lines.join('\n')}\n`
}

// Readers of the log get the trailers back without re-implementing git's trailer rules.
/** The `Key: value` trailers of the last paragraph of a commit message. */
export function parseTrailers(message: string): Record<string, string> {
  const paragraphs = message.trimEnd().split(/\n\s*\n/)
  if (paragraphs.length < 2) return {}
  const trailers: Record<string, string> = {}
  for (const line of (paragraphs.at(-1) ?? '').split('\n')) {
    const match = /^([A-Za-z0-9][A-Za-z0-9-]*): ?(.*)$/.exec(line)
    if (match === null) return {}
    trailers[match[1] as string] = match[2] as string
  }
  return trailers
}

/** The raw commit object: tree, optional parent, identity with the local time zone, message. */
export function encodeCommit(
  tree: string,
  parent: string | undefined,
  message: string,
  now = new Date(),
): Buffer {
  const seconds = Math.floor(now.getTime() / 1000)
  const offset = -now.getTimezoneOffset()
  const sign = offset < 0 ? '-' : '+'
  const abs = Math.abs(offset)
  const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`
  const stamp = `${auditIdentity} ${seconds} ${zone}`
  const head = [`tree ${tree}`, ...(parent === undefined ? [] : [`parent ${parent}`])]
  return Buffer.from(`${head.join('\n')}\nauthor ${stamp}\ncommitter ${stamp}\n\n${message}`)
}
