/**
 * Agent-written text must not drive the reviewer's terminal or hide code from review: control
 * characters (a bare `\r` can overwrite a line on screen) and bidi overrides ("Trojan Source")
 * are shown as visible escapes instead of being printed raw.
 */
export function visibleText(text: string): string {
  return text.replace(hiddenChars, (char, offset: number) => {
    if (char === '\r' && offset === text.length - 1) return char
    const code = char.codePointAt(0) ?? 0
    if (code < 0x20) return `^${String.fromCharCode(code + 64)}`
    if (code === 0x7f) return '^?'
    return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`
  })
}

const hiddenChars =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

const plainPathChar = /^[\u0020-\u007e]*$/

/** Git's path quoting (core.quotePath): unusual names are C-quoted with octal UTF-8 bytes. */
export function quotePath(prefix: string, path: string): string {
  const full = `${prefix}${path}`
  if (plainPathChar.test(full) && !full.includes('"') && !full.includes('\\')) return full
  let out = '"'
  for (const byte of Buffer.from(full, 'utf8')) {
    const escape = cEscapes[byte]
    if (escape !== undefined) out += escape
    else if (byte < 0x20 || byte >= 0x7f) out += `\\${byte.toString(8).padStart(3, '0')}`
    else out += String.fromCharCode(byte)
  }
  return `${out}"`
}

const cEscapes: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0b: '\\v',
  0x0c: '\\f',
  0x0d: '\\r',
  0x22: '\\"',
  0x5c: '\\\\',
}
