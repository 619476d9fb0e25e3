import { drained } from './bounded-output.js'
import { VERSION } from '../shared/version.js'

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
  // A reader that closes the pipe early (`safe-coder exec -- cat big | head`) is not a crash: the
  // rest of the output goes nowhere, as with any Unix tool, and the command's work is still kept.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // Loaded here, not above: `--version` below needs none of it.
  const { main } = await import('./main.js')
  const status = await main(process.argv.slice(2), {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    signal: controller.signal,
  })
  process.exitCode = status
  // Output a slow reader (a pager, `| (sleep 3; wc -c)`) has not taken yet must reach it first:
  // exiting now would cut it off. A reader that goes away ends the wait with EPIPE.
  await Promise.all([drained(process.stdout), drained(process.stderr)])
  // Sockets to the engine may linger (keep-alive); do not hang on them once the command is done.
  setTimeout(() => process.exit(status), 2000).unref()
}

// `--version` alone is answered before anything else loads (as commander would answer it).
const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V'))
  process.stdout.write(`${VERSION}\n`)
else await run()
