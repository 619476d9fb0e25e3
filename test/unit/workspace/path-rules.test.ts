import { describe, expect, it } from 'vitest'
import {
  createPathRules,
  hasGitSegment,
  isUnsafeName,
  scopePatterns,
} from '../../../src/workspace/path-rules.js'

describe('isUnsafeName', () => {
  it('refuses absolute paths, NUL bytes and empty, . or .. segments', () => {
    for (const rel of [
      '',
      '/etc/passwd',
      '../x',
      'a/../../x',
      'a/..',
      'a//b',
      './a',
      'a/./b',
      'a\0b',
    ]) {
      expect(isUnsafeName(rel), JSON.stringify(rel)).toBe(true)
    }
  })

  it('accepts odd but harmless names', () => {
    for (const rel of [
      '...',
      '..a',
      'a..',
      'new\nline',
      'sp ace',
      'ünï/文件',
      '-rf',
      'back\\slash',
    ]) {
      expect(isUnsafeName(rel), JSON.stringify(rel)).toBe(false)
    }
  })
})

describe('hasGitSegment', () => {
  it('finds .git at any depth and in any case', () => {
    expect(hasGitSegment('.git')).toBe(true)
    expect(hasGitSegment('a/.git/config')).toBe(true)
    expect(hasGitSegment('a/.GIT')).toBe(true)
    expect(hasGitSegment('.gitignore')).toBe(false)
    expect(hasGitSegment('a/x.git')).toBe(false)
  })
})

describe('scopePatterns', () => {
  it('anchors patterns with a slash to the directory and lets the others match at any depth', () => {
    expect(
      scopePatterns('sub', '# comment\n\n*.tmp\n/only-here\na/b\n!keep.tmp\nbuild/\n'),
    ).toEqual([
      { pattern: 'sub/**/*.tmp' },
      { pattern: 'sub/only-here' },
      { pattern: 'sub/a/b' },
      { pattern: '!sub/**/keep.tmp' },
      { pattern: 'sub/**/build/' },
    ])
  })

  it('escapes glob characters in the directory name', () => {
    const rules = createPathRules([])
    rules.addGitignore('[x] #!*', '*.tmp\n')
    expect(rules.skips('[x] #!*/a.tmp', false)).toBe(true)
    expect(rules.skips('x/a.tmp', false)).toBe(false)
    expect(rules.skips('[x] #!*y/a.tmp', false)).toBe(false)
  })
})

describe('createPathRules', () => {
  it('lets a deeper .gitignore re-include what a shallower one ignores', () => {
    const rules = createPathRules([])
    rules.addGitignore('', 'gen/\n*.log\n')
    rules.addGitignore('a', '!gen/\n')
    expect(rules.skips('gen', true)).toBe(true)
    expect(rules.skips('a/gen', true)).toBe(false)
    expect(rules.skips('a/gen/x.ts', false)).toBe(false)
    expect(rules.skips('a/gen/x.log', false)).toBe(true)
  })

  it('puts exclude patterns above every negation', () => {
    const rules = createPathRules(['*.snap', 'fixtures/'])
    rules.addGitignore('', '!*.snap\n')
    expect(rules.skips('a.snap', false)).toBe(true)
    expect(rules.skips('fixtures', true)).toBe(true)
    expect(rules.skips('fixtures/a.txt', false)).toBe(true)
    expect(rules.skips('a.txt', false)).toBe(false)
  })
})
