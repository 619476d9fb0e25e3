import { describe, expect, it } from 'vitest'
import { fuzzyScore, rankActions } from '../../../../src/tui/overlays/palette.js'
import { resolveKeymap } from '../../../../src/tui/keys.js'
import { wrapText } from '../../../../src/tui/panes/wrap-text.js'

describe('wrapText', () => {
  it('wraps at word boundaries, keeps newlines, splits over-long words', () => {
    expect(wrapText('the quick brown fox', 10)).toEqual(['the quick', 'brown fox'])
    expect(wrapText('a\n\nb', 10)).toEqual(['a', '', 'b'])
    expect(wrapText('abcdefghijkl', 5)).toEqual(['abcde', 'fghij', 'kl'])
    // Wide characters take two columns.
    expect(wrapText('日本語のテキスト', 6)).toEqual(['日本語', 'のテキ', 'スト'])
  })
})

describe('the palette filter', () => {
  it('matches subsequences and ranks word starts and runs first', () => {
    expect(fuzzyScore('xyz', 'next session')).toBeUndefined()
    expect(fuzzyScore('nse', 'next session')).toBeDefined()
    const ranked = rankActions('next sess', resolveKeymap().entries())
    expect(ranked[0]?.action).toBe('session-next')
  })
})
