import type { ProxyEvent } from '../../network/types.js'

/** A proxy event line longer than this is dropped (and reported), never buffered further. */
export const MAX_EVENT_LINE = 64 * 1024

/**
 * Splits the proxy's stdout into JSON lines and turns each into a ProxyEvent. A malformed,
 * unknown or oversized line becomes an `error` event; nothing here throws.
 */
export class ProxyEventReader {
  private pending = ''
  private skipping = false

  constructor(
    private readonly deliver: (event: ProxyEvent) => void,
    private readonly maxLine = MAX_EVENT_LINE,
  ) {}

  push(chunk: Buffer | string): void {
    this.pending += String(chunk)
    let eol = this.pending.indexOf('\n')
    while (eol >= 0) {
      const line = this.pending.slice(0, eol)
      this.pending = this.pending.slice(eol + 1)
      if (this.skipping) this.skipping = false
      else this.line(line)
      eol = this.pending.indexOf('\n')
    }
    if (this.pending.length > this.maxLine) {
      if (!this.skipping) this.deliver(oversized(this.maxLine))
      this.skipping = true
      this.pending = ''
    }
  }

  private line(text: string): void {
    if (text.length > this.maxLine) this.deliver(oversized(this.maxLine))
    else if (text.trim() !== '') this.deliver(parseProxyEvent(text))
  }
}

function oversized(max: number): ProxyEvent {
  return { type: 'error', message: `dropped a proxy event line longer than ${max} bytes` }
}

/** One line of the proxy's stdout as an event; anything else as an `error` event. */
export function parseProxyEvent(line: string): ProxyEvent {
  const preview = line.length > 200 ? `${line.slice(0, 200)}…` : line
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return { type: 'error', message: `malformed proxy event line: ${preview}` }
  }
  return isProxyEvent(value)
    ? value
    : { type: 'error', message: `unrecognised proxy event: ${preview}` }
}

function isProxyEvent(value: unknown): value is ProxyEvent {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false
  const v = value as Record<string, unknown>
  switch (v.type) {
    case 'ready':
      return typeof v.port === 'number'
    case 'error':
      return typeof v.message === 'string'
    case 'allowed':
    case 'denied':
      return (
        typeof v.host === 'string' &&
        typeof v.port === 'number' &&
        (v.kind === 'connect' || v.kind === 'http') &&
        ['bytesIn', 'bytesOut', 'durationMs', 'at'].every((k) => typeof v[k] === 'number')
      )
    default:
      return false
  }
}
