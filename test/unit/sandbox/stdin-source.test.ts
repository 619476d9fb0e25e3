import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { isStdinStream, pumpStdin } from '../../../src/sandbox/stdin-source.js'

/** A sink that takes a chunk only when the test says so. */
function heldSink(): { sink: Writable; got: Buffer[]; release: () => void; ended: Promise<void> } {
  const got: Buffer[] = []
  const waiting: (() => void)[] = []
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      got.push(chunk)
      waiting.push(() => {
        callback()
      })
    },
  })
  const ended = new Promise<void>((resolve) => sink.on('finish', resolve))
  return { sink, got, release: () => waiting.shift()?.(), ended }
}

const turns = async (n = 20): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

describe('pumpStdin', () => {
  it('takes the next chunk only once the sink drained, then ends the sink', async () => {
    let taken = 0
    async function* source(): AsyncGenerator<Uint8Array> {
      for (const text of ['a', 'b', 'c']) {
        taken++
        yield await Promise.resolve(Buffer.from(text))
      }
    }
    const { sink, got, release, ended } = heldSink()
    const pumping = pumpStdin(source(), sink, () => false)
    await turns()
    expect(taken).toBe(1)
    release()
    await turns()
    expect(taken).toBe(2)
    release()
    await turns()
    release()
    await ended
    await pumping
    expect(Buffer.concat(got).toString()).toBe('abc')
  })

  it('stops taking input once the command has ended', async () => {
    let taken = 0
    async function* source(): AsyncGenerator<Uint8Array> {
      for (;;) {
        taken++
        yield await Promise.resolve(Buffer.from('x'))
      }
    }
    let over = false
    const { sink, release } = heldSink()
    const pumping = pumpStdin(source(), sink, () => over)
    await turns()
    over = true
    release()
    await pumping
    expect(taken).toBe(2)
    expect(sink.writableEnded).toBe(false)
  })

  it('ends the input when the source fails', async () => {
    async function* source(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(Buffer.from('part'))
      throw new Error('read error')
    }
    const { sink, release, ended } = heldSink()
    const pumping = pumpStdin(source(), sink, () => false)
    await turns()
    release()
    await ended
    await pumping
  })

  it('tells streams from bytes', () => {
    expect(isStdinStream('text')).toBe(false)
    expect(isStdinStream(Buffer.from('x'))).toBe(false)
    expect(isStdinStream(undefined)).toBe(false)
    expect(isStdinStream((async function* () {})())).toBe(true)
  })
})
