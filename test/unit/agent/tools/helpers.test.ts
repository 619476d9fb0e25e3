import { describe, expect, it } from 'vitest'
import { projectPath } from '../../../../src/agent/tools/paths.js'
import { cutMarker, truncateText } from '../../../../src/agent/tools/truncate.js'
import { OutputCollector } from '../../../../src/agent/tools/output-collector.js'
import { isSafeCoderError } from '../../../../src/shared/errors.js'

function refusal(input: string, options?: { allowRoot?: boolean }): string {
  try {
    return `accepted ${projectPath(input, options)}`
  } catch (error) {
    if (!isSafeCoderError(error, 'PATH_REJECTED')) throw error
    return error.message
  }
}

describe('projectPath', () => {
  it('normalises paths inside the project', () => {
    expect(projectPath('src/a.ts')).toBe('src/a.ts')
    expect(projectPath('./src//b/../a.ts')).toBe('src/a.ts')
    expect(projectPath('src/')).toBe('src')
    expect(projectPath('/workspace/x')).toBe('x')
    expect(projectPath('/workspace/a/../b/')).toBe('b')
    expect(projectPath('-rf')).toBe('-rf')
    expect(projectPath('', { allowRoot: true })).toBe('.')
    expect(projectPath('.', { allowRoot: true })).toBe('.')
    expect(projectPath('/workspace', { allowRoot: true })).toBe('.')
    expect(projectPath('a/..', { allowRoot: true })).toBe('.')
  })

  it.each([
    '/etc/shadow',
    '/workspacex/a',
    '/',
    '../x',
    '../../x',
    'a/../../b',
    '/workspace/../etc',
  ])('refuses %s, naming it and saying paths are relative to the root', (input) => {
    const message = refusal(input, { allowRoot: true })
    expect(message).toContain(JSON.stringify(input))
    expect(message).toMatch(/refused/)
    try {
      projectPath(input)
    } catch (error) {
      expect(isSafeCoderError(error) && error.hint).toMatch(/relative to the project root/)
    }
  })

  it('refuses the root where a file is needed, and NUL bytes', () => {
    expect(refusal('')).toMatch(/project root, not a file/)
    expect(refusal('.')).toMatch(/project root, not a file/)
    expect(refusal('a\0b')).toMatch(/NUL/)
  })
})

describe('truncateText', () => {
  it('leaves short text alone', () => {
    expect(truncateText('abc', 3)).toBe('abc')
  })

  it('cuts to the limit with a marker that says how much was cut', () => {
    const text = 'x'.repeat(20_000)
    const out = truncateText(text, 1000)
    expect(out.length).toBeLessThanOrEqual(1000)
    const cut = /\[cut ([\d,]+) characters; narrow the request\]$/.exec(out)
    expect(cut).not.toBeNull()
    const kept = out.indexOf('\n')
    expect(Number(cut?.[1]?.replace(/,/g, ''))).toBe(20_000 - kept)
  })

  it('can keep both ends, with its own advice', () => {
    const out = truncateText(`HEAD${'x'.repeat(5000)}TAIL`, 500, {
      keep: 'ends',
      advice: 'use tail',
    })
    expect(out.startsWith('HEAD')).toBe(true)
    expect(out.endsWith('TAIL')).toBe(true)
    expect(out).toMatch(/… \[cut [\d,]+ characters; use tail\]/)
    expect(out.length).toBeLessThanOrEqual(500)
  })

  it('formats the marker with thousands separators', () => {
    expect(cutMarker(12_345, 'characters', 'narrow the request')).toBe(
      '… [cut 12,345 characters; narrow the request]',
    )
  })
})

describe('OutputCollector', () => {
  it('keeps everything while it fits', () => {
    const c = new OutputCollector(10)
    c.push(Buffer.from('hello '))
    c.push(Buffer.from('world'))
    expect(c.text()).toEqual({ head: 'hello worl', tail: 'd', droppedBytes: 0 })
  })

  it('keeps the head and the tail of a flood and counts the middle', () => {
    const c = new OutputCollector(4)
    c.push(Buffer.from('ABCD'))
    for (let i = 0; i < 1000; i++) c.push(Buffer.from('..........'))
    c.push(Buffer.from('WXYZ'))
    expect(c.text()).toEqual({ head: 'ABCD', tail: 'WXYZ', droppedBytes: 10_000 })
    expect(c.total).toBe(10_008)
  })
})
