import { describe, expect, it } from 'vitest'
import { ExecLog } from '../../../../src/tui/state/exec-log.js'
import {
  createLogRing,
  emptyCarry,
  flushCarry,
  splitLines,
  type LineCarry,
} from '../../../../src/tui/state/ring.js'

/** Feeds chunks through splitLines and flushes, like one exec's stream. */
function feed(chunks: string[], max?: number): string[] {
  let carry: LineCarry = emptyCarry
  const out: string[] = []
  for (const chunk of chunks) {
    const result = splitLines(carry, chunk, max)
    out.push(...result.lines)
    carry = result.carry
  }
  return [...out, ...flushCarry(carry, max)]
}

describe('createLogRing', () => {
  it('holds lines oldest first and counts pushes', () => {
    const ring = createLogRing(3)
    expect(ring.at(0)).toBeUndefined()
    for (const text of ['a', 'b']) ring.push({ execId: 'e', stream: 'stdout', text })
    expect([ring.length, ring.pushed, ring.version]).toEqual([2, 2, 2])
    expect([ring.at(0)?.text, ring.at(1)?.text, ring.at(2)]).toEqual(['a', 'b', undefined])
    expect(ring.at(-1)).toBeUndefined()
    expect(ring.at(0.5)).toBeUndefined()
  })

  it('drops the oldest lines on overflow (capacity 100, 10,000 pushes)', () => {
    const ring = createLogRing(100)
    for (let i = 0; i < 10_000; i++) ring.push({ execId: 'e', stream: 'stdout', text: `#${i}` })
    expect(ring.capacity).toBe(100)
    expect(ring.length).toBe(100)
    expect(ring.pushed).toBe(10_000)
    expect(ring.version).toBe(10_000)
    expect(ring.at(0)?.text).toBe('#9900')
    expect(ring.at(99)?.text).toBe('#9999')
    expect(ring.at(100)).toBeUndefined()
  })

  it('has a capacity of at least one', () => {
    const ring = createLogRing(0)
    ring.push({ execId: 'e', stream: 'stdout', text: 'x' })
    ring.push({ execId: 'e', stream: 'stdout', text: 'y' })
    expect([ring.capacity, ring.length, ring.at(0)?.text]).toEqual([1, 1, 'y'])
  })
})

describe('splitLines', () => {
  it('joins lines split anywhere across chunks', () => {
    expect(feed(['hel', 'lo\nwor', 'ld\n', '\n', 'tail'])).toEqual(['hello', 'world', '', 'tail'])
    expect(feed(['a\r', '\nb\r\n'])).toEqual(['a', 'b'])
    expect(feed([''])).toEqual([])
  })

  it('returns completed lines and carries the rest', () => {
    const first = splitLines(emptyCarry, 'one\ntw')
    expect(first.lines).toEqual(['one'])
    expect(first.carry).toEqual({ text: 'tw', dropped: 0 })
    const second = splitLines(first.carry, 'o\n')
    expect(second.lines).toEqual(['two'])
    expect(second.carry).toBe(emptyCarry)
  })

  it('shows a progress bar by its last state and keeps the carry small', () => {
    const bars = Array.from({ length: 1000 }, (_, i) => `\r[${'#'.repeat(i % 40)}] ${i}%`)
    let carry: LineCarry = emptyCarry
    for (const bar of bars) carry = splitLines(carry, bar).carry
    expect(carry.text.length).toBeLessThan(60)
    const done = splitLines(carry, '\rdone\n')
    expect(done.lines).toEqual(['done'])
    // A carriage return at the end of one chunk: the next chunk overwrites.
    expect(feed(['50%\r', '60%\r', '70%\n'])).toEqual(['70%'])
    expect(feed(['progress 50%\r'])).toEqual(['progress 50%'])
  })

  it('cuts long lines and marks the cut', () => {
    const [line] = feed(['x'.repeat(2500) + '\n'])
    expect(line).toBe(`${'x'.repeat(2000)} … [500 chars cut]`)
    // A line that never ends holds at most a bounded carry.
    let carry: LineCarry = emptyCarry
    for (let i = 0; i < 100; i++) carry = splitLines(carry, 'y'.repeat(10_000)).carry
    expect(carry.text.length).toBe(8000)
    expect(flushCarry(carry)).toEqual([`${'y'.repeat(2000)} … [998000 chars cut]`])
    expect(feed(['abcdef\n'], 3)).toEqual(['abc … [3 chars cut]'])
  })

  it('sanitises complete lines, even when an escape was split across chunks', () => {
    expect(feed(['\x1b[3', '1mred\x1b[0m\n'])).toEqual(['red'])
  })
})

describe('ExecLog', () => {
  it('keeps a partial line per exec and stream, flushed at the end', () => {
    const log = new ExecLog(100)
    expect(log.write('a', 'stdout', 'a-out')).toBe(0)
    expect(log.write('b', 'stdout', 'b-out\n')).toBe(1)
    expect(log.write('a', 'stderr', 'a-err')).toBe(0)
    expect(log.write('a', 'stdout', ' more\nnext')).toBe(1)
    log.meta('a', 'exit 0 in 5 ms')
    expect(log.finish('a')).toBe(2)
    expect(log.finish('a')).toBe(0)
    const all = Array.from({ length: log.length }, (_, i) => log.at(i))
    expect(all).toEqual([
      { execId: 'b', stream: 'stdout', text: 'b-out' },
      { execId: 'a', stream: 'stdout', text: 'a-out more' },
      { execId: 'a', stream: 'meta', text: 'exit 0 in 5 ms' },
      { execId: 'a', stream: 'stdout', text: 'next' },
      { execId: 'a', stream: 'stderr', text: 'a-err' },
    ])
  })

  it('caps meta lines', () => {
    const log = new ExecLog(10, 5)
    log.meta('a', '$ echo hello')
    expect(log.at(0)?.text).toBe('$ ech …')
  })
})
