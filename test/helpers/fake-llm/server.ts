import { createServer } from 'node:http'
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** One request the fake received, as it arrived on the wire. */
export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  /** The parsed JSON body (undefined when there was none). */
  body: unknown
  /** `performance.now()` when the request arrived. */
  at: number
}

/** One step of a streamed body. */
export type StreamStep =
  /** Raw bytes to write (an SSE event, a `data:` line, …). */
  | { write: string }
  /** Pause before the next step. */
  | { delayMs: number }

/** How the fake answers one request; the server pops one per request, in order. */
export type ScriptedResponse =
  | { type: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | {
      type: 'stream'
      steps: StreamStep[]
      /**
       * `end`: finish the response normally; `destroy`: cut the socket (a truncated stream);
       * `stall`: keep the connection open and send nothing more (an idle stream).
       */
      end: 'end' | 'destroy' | 'stall'
      status?: number
      headers?: Record<string, string>
    }

export interface FakeLlmServer {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string
  readonly requests: RecordedRequest[]
  /** Requests whose client went away before the response was complete (aborts). */
  readonly clientAborts: number
  enqueue(...responses: ScriptedResponse[]): void
  /** Responses queued but not used yet. */
  pending(): number
  close(): Promise<void>
}

/** A fake LLM HTTP server on 127.0.0.1 (random port) that plays scripted responses. */
export async function startFakeLlm(): Promise<FakeLlmServer> {
  const queue: ScriptedResponse[] = []
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  let clientAborts = 0

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: text === '' ? undefined : (JSON.parse(text) as unknown),
        at: performance.now(),
      })
      res.on('close', () => {
        if (!res.writableFinished) clientAborts++
      })
      const next = queue.shift()
      if (next === undefined) {
        respondJson(res, 500, { error: { message: 'fake-llm: no scripted response left' } })
        return
      }
      void play(res, next)
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get clientAborts() {
      return clientAborts
    },
    enqueue: (...responses) => queue.push(...responses),
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => {
          resolve()
        })
      }),
  }
}

function respondJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

async function play(res: ServerResponse, response: ScriptedResponse): Promise<void> {
  if (response.type === 'json') {
    respondJson(res, response.status, response.body, response.headers)
    return
  }
  res.writeHead(response.status ?? 200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...response.headers,
  })
  res.flushHeaders()
  for (const step of response.steps) {
    if (res.destroyed) return
    if ('write' in step) res.write(step.write)
    else await new Promise((resolve) => setTimeout(resolve, step.delayMs))
  }
  if (response.end === 'end') res.end()
  else if (response.end === 'destroy') {
    // Let the written bytes reach the client before the socket is cut mid-response.
    await new Promise((resolve) => setTimeout(resolve, 20))
    res.socket?.destroy()
  }
  // 'stall': leave the response open; the client's abort or close() ends it.
}
