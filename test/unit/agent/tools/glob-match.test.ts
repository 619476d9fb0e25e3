import { describe, expect, it } from 'vitest'
import { globToRegExp, matchGlob } from '../../../../src/agent/tools/glob-match.js'

describe('glob matcher', () => {
  const cases: [string, string, boolean][] = [
    ['*.ts', 'a.ts', true],
    ['*.ts', 'src/a.ts', false],
    ['*.ts', '.hidden.ts', true],
    ['src/**/*.ts', 'src/a.ts', true],
    ['src/**/*.ts', 'src/x/y/a.ts', true],
    ['src/**/*.ts', 'test/a.ts', false],
    ['src/**/*.ts', 'src/a.tsx', false],
    ['**/*.ts', 'a.ts', true],
    ['**/*.ts', 'deep/er/a.ts', true],
    ['**', 'any/thing/at/all', true],
    ['src/**', 'src/a/b', true],
    ['src/**', 'srcx/a', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/xb', false],
    ['a**b', 'axxb', true],
    ['a**b', 'ax/xb', false],
    ['?.js', 'a.js', true],
    ['?.js', 'ab.js', false],
    ['?', '/', false],
    ['*.{js,json}', 'x.json', true],
    ['*.{js,json}', 'x.js', true],
    ['*.{js,json}', 'x.jsx', false],
    ['{src,test}/**/*.{ts,tsx}', 'test/u/a.tsx', true],
    ['{a,{b,c}d}.txt', 'cd.txt', true],
    ['{a,{b,c}d}.txt', 'c.txt', false],
    ['file[0-9].txt', 'file7.txt', true],
    ['file[0-9].txt', 'filex.txt', false],
    ['file[!0-9].txt', 'filex.txt', true],
    ['file[^0-9].txt', 'file1.txt', false],
    ['a[!x]b', 'a/b', false],
    ['[]]', ']', true],
    ['a.b', 'axb', false],
    ['a+(b)|c$', 'a+(b)|c$', true],
    ['\\*.md', '*.md', true],
    ['\\*.md', 'a.md', false],
    ['[unclosed', '[unclosed', true],
    ['{unclosed', '{unclosed', true],
    ['ünï/*.txt', 'ünï/ç.txt', true],
  ]
  it.each(cases)('%s vs %s → %s', (glob, path, expected) => {
    expect(matchGlob(glob, path)).toBe(expected)
  })

  it('builds an anchored RegExp', () => {
    expect(globToRegExp('*.ts').source).toBe('^[^/]*\\.ts$')
  })
})
