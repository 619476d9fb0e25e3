import type { Bus } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import type { Sandbox } from '../sandbox/types.js'
import { createId } from '../shared/ids.js'

/**
 * The session's sandbox as tools see it: every exec (a `bash` call, and the commands behind
 * `glob` and `grep`) is announced on the bus with its streamed output, for the process log.
 * Everything else passes through unchanged (optional capabilities only where the sandbox has
 * them).
 */
export function observeSandbox(sandbox: Sandbox, sessionId: string, bus: Bus<EventMap>): Sandbox {
  const decoder = () => new TextDecoder('utf-8', { fatal: false })
  return {
    id: sandbox.id,
    kind: sandbox.kind,
    ...(sandbox.disk === undefined ? {} : { disk: sandbox.disk }),
    async exec(req, io = {}) {
      const execId = createId('exec')
      const command = typeof req.command === 'string' ? req.command : req.command.join(' ')
      bus.emit('exec.started', {
        sessionId,
        execId,
        command,
        cwd: req.cwd ?? '/workspace',
        at: Date.now(),
      })
      const out = decoder()
      const err = decoder()
      const started = Date.now()
      try {
        const result = await sandbox.exec(req, {
          ...io,
          onStdout: (chunk) => {
            io.onStdout?.(chunk)
            const text = out.decode(chunk, { stream: true })
            if (text !== '') bus.emit('exec.output', { sessionId, execId, stream: 'stdout', text })
          },
          onStderr: (chunk) => {
            io.onStderr?.(chunk)
            const text = err.decode(chunk, { stream: true })
            if (text !== '') bus.emit('exec.output', { sessionId, execId, stream: 'stderr', text })
          },
        })
        bus.emit('exec.finished', {
          sessionId,
          execId,
          exitCode: result.exitCode,
          durationMs: result.durationMs,
          timedOut: result.timedOut,
          aborted: result.aborted,
          truncatedBytes: result.truncatedBytes,
        })
        return result
      } catch (error) {
        bus.emit('exec.finished', {
          sessionId,
          execId,
          exitCode: null,
          durationMs: Date.now() - started,
          timedOut: false,
          aborted: false,
          truncatedBytes: 0,
        })
        throw error
      }
    },
    readFile: (path, options) => sandbox.readFile(path, options),
    writeFile: (path, data, options) => sandbox.writeFile(path, data, options),
    stat: (path, options) => sandbox.stat(path, options),
    list: (path, options) => sandbox.list(path, options),
    stats: (signal) => sandbox.stats(signal),
    whileFrozen: (work) => sandbox.whileFrozen(work),
    ...(sandbox.syncOut === undefined ? {} : { syncOut: sandbox.syncOut.bind(sandbox) }),
    ...(sandbox.takeSkipped === undefined
      ? {}
      : { takeSkipped: sandbox.takeSkipped.bind(sandbox) }),
    ...(sandbox.syncIn === undefined ? {} : { syncIn: sandbox.syncIn.bind(sandbox) }),
    dispose: () => sandbox.dispose(),
  }
}
