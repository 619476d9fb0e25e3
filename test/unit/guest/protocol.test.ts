import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  describeBytes,
  encodeFrame,
  encodeHeader,
  encodeJson,
  FrameDecoder,
  FrameKind,
  HEADER_BYTES,
  parseJson,
  ProtocolError,
  type Frame,
} from '../../../src/guest/protocol.js'
import { AGENT_VERSION } from '../../../src/guest/version.js'

function decoder(
  maxPayload = 1024 * 1024,
  hunt?: ConstructorParameters<typeof FrameDecoder>[0]['hunt'],
) {
  const frames: Frame[] = []
  const d = new FrameDecoder({ maxPayload, ...(hunt === undefined ? {} : { hunt }) }, (f) =>
    frames.push(f),
  )
  return { d, frames }
}

describe('frame codec', () => {
  it('lays out the header as [u32 BE length][u8 kind][u32 BE id]', () => {
    const frame = encodeFrame(FrameKind.stdout, 0x01020304, Buffer.from('hi'))
    expect([...frame]).toEqual([0, 0, 0, 2, 2, 1, 2, 3, 4, 0x68, 0x69])
    expect(encodeHeader(FrameKind.json, 0xffffffff, 7).length).toBe(HEADER_BYTES)
  })

  it('round-trips frames whatever the chunk boundaries, empty payloads included', () => {
    const payloads = [Buffer.alloc(0), Buffer.from([0, 255, 10, 13]), Buffer.alloc(70_000, 7)]
    const bytes = Buffer.concat([
      encodeJson(1, { op: 'hello', protocol: 1 }),
      ...payloads.map((p, i) => encodeFrame(FrameKind.file, i + 2, p)),
      encodeFrame(FrameKind.stdin, 9, Buffer.from('tail')),
    ])
    for (const step of [1, 3, 8, 9, 10, 4096, bytes.length]) {
      const { d, frames } = decoder()
      for (let at = 0; at < bytes.length; at += step) d.push(bytes.subarray(at, at + step))
      expect(frames.map((f) => [f.kind, f.id])).toEqual([
        [FrameKind.json, 1],
        [FrameKind.file, 2],
        [FrameKind.file, 3],
        [FrameKind.file, 4],
        [FrameKind.stdin, 9],
      ])
      expect(parseJson((frames[0] as Frame).payload)).toEqual({ op: 'hello', protocol: 1 })
      payloads.forEach((p, i) => {
        expect((frames[i + 1] as Frame).payload.equals(p)).toBe(true)
      })
      expect(d.buffered).toBe(0)
    }
  })

  it('refuses a frame larger than the cap as soon as its header arrives', () => {
    const { d, frames } = decoder(1000)
    d.push(encodeFrame(FrameKind.file, 1, Buffer.alloc(1000)))
    expect(frames).toHaveLength(1)
    // Only the header of a 4 GB frame: refused without waiting for (or buffering) its payload.
    expect(() => {
      d.push(encodeHeader(FrameKind.file, 2, 0xffffffff))
    }).toThrow(/4294967295 bytes, more than the 1000 allowed/)
  })

  it('refuses unknown kinds and JSON payloads that are not objects', () => {
    expect(() => {
      decoder().d.push(Buffer.from([0, 0, 0, 0, 9, 0, 0, 0, 1]))
    }).toThrow(ProtocolError)
    expect(() => parseJson(Buffer.from('[1,2]'))).toThrow(/not an object/)
    expect(() => parseJson(Buffer.from('{"op":'))).toThrow(/does not parse/)
    expect(() => parseJson(Buffer.from('null'))).toThrow(ProtocolError)
  })

  it('hunts for the hello through garbage, then decodes strictly', () => {
    const { d, frames } = decoder(1024 * 1024, (_f, m) => m.op === 'hello')
    const garbage = Buffer.concat([
      Buffer.from('\x1b[0mBooting Linux…\r\n'),
      // A plausible header whose payload is not a hello, and a truncated frame.
      encodeJson(5, { op: 'stat' }),
      encodeFrame(FrameKind.json, 3, Buffer.from('{"op":"hel')).subarray(0, 12),
    ])
    d.push(garbage)
    d.push(encodeJson(0, { op: 'hello', protocol: 1 }))
    d.push(encodeFrame(FrameKind.stdout, 8, Buffer.from('x')))
    expect(frames.map((f) => f.id)).toEqual([0, 8])
    expect(d.hunting).toBe(false)
    expect(d.skipped).toBe(garbage.length)
    expect(describeBytes(d.skippedPreview, 6)).toBe('"\\x1b[0mBo…"')
    expect(() => {
      d.push(Buffer.alloc(HEADER_BYTES, 0xff))
    }).toThrow(ProtocolError)
  })

  it('describes bytes printably', () => {
    expect(describeBytes(Buffer.from('a"b\\\n\x00é'))).toBe('"a\\x22b\\x5c\\x0a\\x00\\xc3\\xa9"')
  })

  it('reports the package version in the agent (it cannot read package.json in an image)', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string
    }
    expect(AGENT_VERSION).toBe(pkg.version)
  })
})
