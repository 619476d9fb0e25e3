import { describe, expect, it } from 'vitest'
import { sanitizeLine, sanitizeText, STAND_IN } from '../../../../src/tui/state/sanitize.js'

const X = STAND_IN

describe('sanitizeLine', () => {
  it('passes plain ASCII through unchanged', () => {
    const text = 'npm test -- --run {braces} [brackets]'
    expect(sanitizeLine(text)).toBe(text)
  })

  it('strips ANSI colours, cursor moves, OSC titles and links', () => {
    expect(sanitizeLine('\x1b[1;32m✓\x1b[0m passed \x1b[2K\x1b[1G')).toBe('✓ passed ')
    expect(sanitizeLine('\x1b]0;title\x07text')).toBe('text')
    expect(sanitizeLine('\x1b]8;;https://x.y\x1b\\link\x1b]8;;\x1b\\')).toBe('link')
    expect(sanitizeLine('\x1b(Bplain\x1b=')).toBe('plain')
    expect(sanitizeLine('\x9b31mred')).toBe('red')
    expect(sanitizeLine('unterminated \x1b]0;tit')).toBe('unterminated ')
  })

  it('shows a \\r progress bar by its last state', () => {
    expect(sanitizeLine('[#   ] 10%\r[##  ] 50%\r[####] 100%')).toBe('[####] 100%')
    expect(sanitizeLine('done\r')).toBe('done')
    expect(sanitizeLine('\x1b[32m 40%\x1b[0m\r\x1b[K 90%')).toBe(' 90%')
  })

  it('drops control characters and applies backspaces', () => {
    expect(sanitizeLine('bell\x07 nul\x00 del\x7f c1\x85 end')).toBe('bell nul del c1 end')
    expect(sanitizeLine('_\bu_\bn bold\b\bld')).toBe('un bold')
    expect(sanitizeLine('one\ntwo')).toBe('one two')
  })

  it('expands tabs to tab stops', () => {
    expect(sanitizeLine('a\tbc\td')).toBe('a   bc  d')
    expect(sanitizeLine('\tx', { tabWidth: 8 })).toBe('        x')
    expect(sanitizeLine('ab\tc', { startColumn: 1 })).toBe('ab c')
  })

  it('replaces emoji with a stand-in, one per sequence, and keeps CJK', () => {
    expect(sanitizeLine('done 🎉 ok')).toBe(`done ${X} ok`)
    expect(sanitizeLine('✅ ✨ ⌛')).toBe(`${X} ${X} ${X}`)
    expect(sanitizeLine('family 👨‍👩‍👧 thumbs 👍🏽 flag 🇫🇷')).toBe(`family ${X} thumbs ${X} flag ${X}`)
    expect(sanitizeLine('heart ❤️ plain ❤ © ™')).toBe(`heart ${X} plain ❤ © ™`)
    expect(sanitizeLine('日本語のテキスト 한국어 中文')).toBe('日本語のテキスト 한국어 中文')
    expect(sanitizeLine('math 𝔸 and 𠀋')).toBe(`math ${X} and ${X}`)
    expect(sanitizeLine('keycap 1️⃣')).toBe('keycap 1')
  })

  it('drops zero-width characters, bidi controls and variation selectors', () => {
    expect(sanitizeLine('a\u200bb\u200dc\ufeffd\u00ade')).toBe('abcde')
    expect(sanitizeLine('access\u202e\u2066level\u2069')).toBe('accesslevel')
    expect(sanitizeLine('x\ufe0e\ufe0fy')).toBe('xy')
    // Decomposed accents compose; stray combining marks go.
    expect(sanitizeLine('cafe\u0301 a\u0338\u0327')).toBe('café a')
    expect(sanitizeLine('lone \ud83d surrogate')).toBe(`lone ${X} surrogate`)
  })
})

describe('sanitizeText', () => {
  it('keeps newlines, normalises \\r\\n and cleans each line', () => {
    expect(sanitizeText('one\r\ntwo\rthree\n\x1b[1mfour\x1b[0m 🚀')).toBe(
      `one\ntwo\nthree\nfour ${X}`,
    )
    expect(sanitizeText('a\tb\n\tc')).toBe('a   b\n    c')
  })
})
