import type { FrameKind } from './protocol.js'

/** What a request handler gets from the connection it arrived on. */
export interface RequestContext {
  readonly id: number
  /** Aborted when the host cancels the request or goes away. */
  readonly signal: AbortSignal
  /** Largest payload the host accepts. */
  readonly maxFrame: number
  /** Queues a frame; false when the channel is congested (wait for `drained`). */
  write(kind: FrameKind, payload: Buffer): boolean
  /** Resolves when the channel can take more (at once when it can now). */
  drained(): Promise<void>
  /** write + drained. */
  send(kind: FrameKind, payload: Buffer): Promise<void>
  /** Sends an intermediate JSON message on this request's id. */
  sendJson(message: object): Promise<void>
  /** Data frames the host sends on this request's id. */
  onData: ((kind: FrameKind, payload: Buffer) => void) | undefined
  /** Control messages (`end`, `kill`, `cancel`, `ack`) on this request's id. */
  onControl: ((op: string) => void) | undefined
}
