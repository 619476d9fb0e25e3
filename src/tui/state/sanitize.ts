/**
 * Makes untrusted text (process output, model text, tool arguments) safe to draw in a blessed
 * box: no escape sequences that could move the cursor or recolour the screen, no control
 * characters, and no characters whose width blessed gets wrong. Blessed measures an emoji as one
 * column while the terminal draws two, so borders would shift; emoji and other characters outside
 * the Basic Multilingual Plane become {@link STAND_IN}. CJK stays (it is in the BMP and the
 * dashboard draws it with full-width support). Zero-width characters (joiners, variation
 * selectors, bidi controls, combining marks left after NFC) are dropped.
 */

/** Drawn instead of a character the terminal cannot be trusted to measure (one column). */
export const STAND_IN = '□'

/** Columns between tab stops. */
export const TAB_WIDTH = 4

// Terminal escapes: OSC (to BEL/ST or end), DCS/SOS/PM/APC strings, CSI, other ESC sequences,
// and the 8-bit CSI.
const ANSI =
  // eslint-disable-next-line no-control-regex -- escape sequences are exactly what is stripped
  /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\|$)|\x1b[PX^_][^\x1b]*(?:\x1b\\|$)|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]/g

/** An emoji and what belongs to it: skin tones, VS16, keycap, tags, ZWJ-joined parts; a flag. */
const EMOJI =
  /\p{Regional_Indicator}{2}|(?:\p{Extended_Pictographic}\uFE0F|\p{Emoji_Presentation})(?:\p{Emoji_Modifier}|\uFE0F|\u20E3|[\u{E0020}-\u{E007F}])*(?:\u200D(?:\p{Extended_Pictographic}|\p{Emoji_Presentation})(?:\p{Emoji_Modifier}|\uFE0F)*)*/gu

/** Zero-width: format characters (joiners, bidi controls, BOM, tags) and combining marks. */
const ZERO_WIDTH = /[\p{Cf}\p{Mn}\p{Me}]/gu

/** Whatever is left outside the BMP, and lone surrogates. */
const ASTRAL = /[\u{10000}-\u{10FFFF}]|[\uD800-\uDFFF]/gu

// eslint-disable-next-line no-control-regex -- control characters are exactly what is stripped
const CONTROL = /[\x00-\x08\x0B-\x1F\x7F-\x9F]/g

const LINE_SEPARATORS = /[\u2028\u2029]/g

const PLAIN = /^[\x20-\x7e]*$/

export interface SanitizeOptions {
  tabWidth?: number
  /** The column the text starts at (for tab stops when text is appended to a line). */
  startColumn?: number
}

/**
 * One terminal line: `\r` overwrites resolve to what a terminal would finally show (the last
 * non-empty segment, so progress bars show their last state), newlines become spaces.
 */
export function sanitizeLine(text: string, options: SanitizeOptions = {}): string {
  if (PLAIN.test(text)) return text
  let clean = text.replace(ANSI, '')
  if (clean.includes('\r')) clean = lastSegment(clean)
  return finish(clean.replace(/\n/g, ' '), options)
}

/** Multi-line text (model output, prompts): newlines stay, `\r\n` and lone `\r` become `\n`. */
export function sanitizeText(text: string, options: SanitizeOptions = {}): string {
  if (PLAIN.test(text)) return text
  const clean = text.replace(ANSI, '').replace(/\r\n?/g, '\n')
  return finish(clean, options)
}

/** What a terminal shows of a line with carriage returns: its last non-empty segment. */
export function lastSegment(text: string): string {
  const segments = text.split('\r')
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]
    if (segment !== undefined && segment !== '') return segment
  }
  return ''
}

function finish(text: string, options: SanitizeOptions): string {
  let clean = text.includes('\b') ? applyBackspaces(text) : text
  clean = clean
    .normalize('NFC')
    .replace(EMOJI, STAND_IN)
    .replace(ZERO_WIDTH, '')
    .replace(ASTRAL, STAND_IN)
    .replace(LINE_SEPARATORS, '\n')
    .replace(CONTROL, '')
  return clean.includes('\t')
    ? expandTabs(clean, options.tabWidth ?? TAB_WIDTH, options.startColumn ?? 0)
    : clean
}

/** `x\by` overstrikes (man pages, some progress output): a backspace removes what precedes it. */
function applyBackspaces(text: string): string {
  const out: string[] = []
  for (const char of text) {
    if (char === '\b') out.pop()
    else out.push(char)
  }
  return out.join('')
}

function expandTabs(text: string, width: number, startColumn: number): string {
  let out = ''
  let column = startColumn
  for (const char of text) {
    if (char === '\t') {
      const spaces = width - (column % width)
      out += ' '.repeat(spaces)
      column += spaces
    } else {
      out += char
      column = char === '\n' ? 0 : column + 1
    }
  }
  return out
}
