/**
 * The entry the network proof runs: `node dist/network/wall-main.js` in a container on a
 * session's internal network, before the sandbox joins it. SAFE_CODER_WALL_TARGETS names the
 * engine's gateways (comma-separated); prints one WallReport line and exits 0.
 */
import { proveWall } from './wall.js'

const given = (process.env.SAFE_CODER_WALL_TARGETS ?? '').split(',').filter((a) => a !== '')
proveWall(given).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`)
  },
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ type: 'error', message: String(error) })}\n`)
    process.exitCode = 1
  },
)
