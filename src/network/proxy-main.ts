/**
 * The entry the proxy sidecar runs: `node dist/network/proxy-main.js`. Policy from the JSON file
 * named by SAFE_CODER_POLICY_FILE (re-read when it changes); listens on
 * SAFE_CODER_PROXY_HOST:SAFE_CODER_PROXY_PORT (default 0.0.0.0:3128); one JSON ProxyEvent per line
 * on stdout, `{"type":"ready","port":…}` first; exits 0 on SIGTERM.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SafeCoderError, toErrorInfo } from '../shared/errors.js'
import { watchPolicyFile } from './policy-file.js'
import { createEgressProxy, type EgressProxy } from './proxy.js'
import type { ProxyEvent } from './types.js'

type Env = Record<string, string | undefined>

function listenPort(text: string | undefined): number {
  if (text === undefined || text === '') return 3128
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN
  if (!(port >= 0 && port <= 65535)) {
    throw new SafeCoderError('CONFIG_INVALID', `SAFE_CODER_PROXY_PORT "${text}" is not a port.`)
  }
  return port
}

function errorLine(error: unknown): ProxyEvent {
  const info = toErrorInfo(error)
  const message = info.cause === undefined ? info.message : `${info.message} (${info.cause})`
  return { type: 'error', message }
}

/** Starts the proxy; `write` gets each line (default: stdout). */
export async function main(
  env: Env,
  write: (line: string) => void = (line) => {
    process.stdout.write(line)
  },
): Promise<EgressProxy> {
  const emit = (event: ProxyEvent): void => {
    write(`${JSON.stringify(event)}\n`)
  }
  const file = env.SAFE_CODER_POLICY_FILE
  if (file === undefined || file === '') {
    throw new SafeCoderError('CONFIG_INVALID', 'SAFE_CODER_POLICY_FILE is not set.', {
      hint: 'Name the JSON file holding the network policy ({mode, allow, deny}).',
    })
  }
  const port = listenPort(env.SAFE_CODER_PROXY_PORT)
  const policy = watchPolicyFile(file, {
    onError: (message) => {
      emit({ type: 'error', message })
    },
  })
  const host = env.SAFE_CODER_PROXY_HOST ?? '0.0.0.0'
  const proxy = await createEgressProxy({ policy, host, port, onEvent: emit })
  emit({ type: 'ready', port: proxy.port })
  return proxy
}

function isEntryPoint(): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

function run(): void {
  const print = (event: ProxyEvent): void => {
    process.stdout.write(`${JSON.stringify(event)}\n`)
  }
  process.on('uncaughtException', (error) => {
    print(errorLine(error))
    process.exit(1)
  })
  main(process.env).then(
    (proxy) => {
      const stop = (): void => {
        setTimeout(() => process.exit(0), 2000).unref()
        void proxy.close().then(() => process.exit(0))
      }
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
    },
    (error: unknown) => {
      print(errorLine(error))
      process.exitCode = 1
    },
  )
}

if (isEntryPoint()) run()
