import { Duplex } from 'node:stream'
import {
  encodeFrame,
  encodeJson,
  FrameDecoder,
  FrameKind,
  parseJson,
  PROTOCOL,
  type JsonObject,
} from '../../../../src/guest/protocol.js'

/** Two in-memory duplex ends: what one writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = []
  const make = (other: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        other().push(chunk)
        callback()
      },
      final(callback) {
        other().push(null)
        callback()
      },
    })
  ends.push(
    make(() => ends[1] as Duplex),
    make(() => ends[0] as Duplex),
  )
  return [ends[0] as Duplex, ends[1] as Duplex]
}

export interface Received {
  id: number
  kind: FrameKind
  message?: JsonObject
  payload: Buffer
}

export const HELLO = {
  op: 'hello',
  protocol: PROTOCOL,
  version: '9.9.9',
  kernel: '6.1.0-test',
  pid: 42,
  root: '/workspace',
  connection: 1,
}

/**
 * A scripted agent at the far end of a duplex pair: records every frame the client sends and
 * answers requests through `onRequest`. Hostile tests make it say whatever they need.
 */
export class FakeAgent {
  readonly received: Received[] = []
  onRequest: (request: Received, agent: FakeAgent) => void = (request, agent) => {
    if (request.message?.op === 'hello') agent.json(request.id, { ok: true, ...HELLO })
  }
  private waiters: { check: (r: Received) => boolean; resolve: (r: Received) => void }[] = []

  constructor(readonly stream: Duplex) {
    const decoder = new FrameDecoder({ maxPayload: 16 * 1024 * 1024 }, (frame) => {
      const received: Received = {
        id: frame.id,
        kind: frame.kind,
        payload: frame.payload,
        ...(frame.kind === FrameKind.json ? { message: parseJson(frame.payload) } : {}),
      }
      this.received.push(received)
      for (const waiter of [...this.waiters]) {
        if (waiter.check(received)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1)
          waiter.resolve(received)
        }
      }
      this.onRequest(received, this)
    })
    stream.on('data', (chunk: Buffer) => {
      decoder.push(chunk)
    })
  }

  json(id: number, message: object): void {
    this.stream.write(encodeJson(id, message))
  }

  data(kind: FrameKind, id: number, payload: Uint8Array): void {
    this.stream.write(encodeFrame(kind, id, payload))
  }

  raw(bytes: Uint8Array): void {
    this.stream.write(bytes)
  }

  /** The next frame the client sends that matches (or one already received). */
  next(check: (r: Received) => boolean): Promise<Received> {
    const seen = this.received.find(check)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve) => this.waiters.push({ check, resolve }))
  }

  request(op: string): Promise<Received> {
    return this.next((r) => r.message?.op === op)
  }
}
