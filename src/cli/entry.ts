import { main } from './main.js'

/** Process glue: signals → AbortSignal, status → exit code. */
async function run(): Promise<void> {
  const controller = new AbortController()
  let interrupts = 0
  const onSignal = (name: NodeJS.Signals): void => {
    interrupts++
    // A second Ctrl-C means "now": leave without waiting for clean-up.
    if (interrupts > 1) process.exit(130)
    controller.abort(new Error(`received ${name}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const status = await main(process.argv.slice(2), {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    signal: controller.signal,
  })
  process.exitCode = status
  // Sockets to the engine may linger (keep-alive); do not hang on them once the command is done.
  setTimeout(() => process.exit(status), 2000).unref()
}

await run()
