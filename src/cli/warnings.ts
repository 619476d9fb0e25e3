import type { NetworkPolicy } from '../network/types.js'
import type { ProbeResult } from '../sandbox/types.js'
import { println, type CliContext } from './context.js'

/** A backend weaker than its name (a microVM under TCG) runs only when asked for, and says so. */
export function warnDegraded(ctx: CliContext, probe: ProbeResult): void {
  if (probe.degraded === undefined) return
  println(ctx.stderr, `safe-coder: WARNING: ${probe.degraded}.`)
}

/** `open` is available but never quiet. */
export function warnOpenNetwork(ctx: CliContext, policy: NetworkPolicy): void {
  if (policy.mode !== 'open') return
  println(
    ctx.stderr,
    'safe-coder: WARNING: the sandbox has an OPEN network: anything inside it can reach the internet and your local network. Use --network allowlist --allow-host HOST to limit it.',
  )
}
