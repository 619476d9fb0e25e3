import type { ScriptedResponse, StreamStep } from './server.js'

export type StreamEnd = 'end' | 'destroy' | 'stall'

/** A streamed response of raw SSE pieces, optionally paced, ending as `end` says. */
export function streamOf(
  pieces: string[],
  options: { end?: StreamEnd; delayMs?: number; headers?: Record<string, string> } = {},
): ScriptedResponse {
  const steps: StreamStep[] = []
  for (const piece of pieces) {
    if (options.delayMs !== undefined) steps.push({ delayMs: options.delayMs })
    steps.push({ write: piece })
  }
  return {
    type: 'stream',
    steps,
    end: options.end ?? 'end',
    ...(options.headers && { headers: options.headers }),
  }
}

/** A data-only SSE line (the OpenAI style). */
export function dataLine(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`
}
