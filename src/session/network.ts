import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { expandPresets, parseDestination } from '../network/policy.js'
import type { Bus } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import type { NetworkMode, NetworkPolicy, ProxyEvent } from '../network/types.js'
import type { SandboxNetwork } from '../sandbox/types.js'
import { writeFileAtomic } from '../shared/durable-file.js'
import { SafeCoderError } from '../shared/errors.js'
import type { SessionPaths } from './paths.js'
import type { SessionStore } from './store.js'

/**
 * The session's egress policy from configuration and flags: `--allow-host` adds to `[network]
 * allow` and, when the mode is `none`, switches to `allowlist` (asking for a host means asking
 * for the proxy). Presets are expanded and every entry is checked here, before a sandbox starts.
 */
export function resolveNetworkPolicy(
  config: { mode: NetworkMode; allow: string[]; deny: string[] },
  flags: { mode?: NetworkMode; allowHosts?: string[] } = {},
): NetworkPolicy {
  const extra = flags.allowHosts ?? []
  const mode =
    flags.mode ?? (extra.length > 0 && config.mode === 'none' ? 'allowlist' : config.mode)
  if (mode === 'none' && extra.length > 0) {
    throw new SafeCoderError(
      'USAGE',
      '--allow-host needs a network: it cannot go with --network none.',
      {
        hint: 'Drop --network none, or use --network allowlist.',
      },
    )
  }
  const allow = expandPresets([...config.allow, ...extra])
  const deny = expandPresets(config.deny)
  for (const entry of [...allow, ...deny]) parseDestination(entry)
  return { mode, allow: [...new Set(allow)], deny: [...new Set(deny)] }
}

/** Where the proxy of a session reads its policy; a folder of its own, mounted read-only. */
export function policyFile(paths: SessionPaths): string {
  return path.join(paths.dir, 'network', 'policy.json')
}

export async function writePolicy(file: string, policy: NetworkPolicy): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 })
  await writeFileAtomic(file, `${JSON.stringify(policy, null, 2)}\n`, { mode: 0o644 })
}

/** One phrase for status lines: "no network", "allow-list (3 hosts)", "OPEN NETWORK". */
export function describeNetwork(policy: NetworkPolicy | undefined): string {
  if (policy === undefined || policy.mode === 'none') return 'no network'
  if (policy.mode === 'open') return 'OPEN NETWORK (unrestricted)'
  return `allow-list (${policy.allow.length} host${policy.allow.length === 1 ? '' : 's'})`
}

/**
 * What a sandbox of this session needs for its network: undefined for `none`; otherwise the
 * policy file written and every proxy event turned into `net.allowed` / `net.denied` on the bus
 * and a line of events.jsonl (so `safe-coder log` shows them).
 */
export async function sandboxNetwork(options: {
  store: SessionStore
  id: string
  bus: Bus<EventMap> | undefined
  policy: NetworkPolicy | undefined
}): Promise<SandboxNetwork | undefined> {
  const { store, id, bus, policy } = options
  if (policy === undefined || policy.mode === 'none') return undefined
  const file = policyFile(store.paths(id))
  await writePolicy(file, policy)
  return {
    policy,
    policyFile: file,
    onEvent: (event: ProxyEvent) => {
      if (event.type === 'allowed' || event.type === 'denied') {
        const { type, ...connection } = event
        bus?.emit(type === 'allowed' ? 'net.allowed' : 'net.denied', {
          sessionId: id,
          ...connection,
        })
        void store.appendEvent(id, { type: `net.${type}`, ...connection }).catch(() => undefined)
      } else if (event.type === 'error') {
        bus?.emit('error', {
          sessionId: id,
          error: { code: 'SANDBOX_FAILED', message: `egress proxy: ${event.message}` },
        })
      }
    },
  }
}

export interface LoggedConnection {
  allowed: boolean
  host: string
  port: number
  kind: string
  reason?: string
  bytesIn: number
  durationMs: number
  at: number
}

/** The connections recorded in events.jsonl, oldest first (damaged lines are skipped). */
export async function readConnections(
  store: SessionStore,
  id: string,
): Promise<LoggedConnection[]> {
  let text: string
  try {
    text = await readFile(store.paths(id).eventsFile, 'utf8')
  } catch {
    return []
  }
  const out: LoggedConnection[] = []
  for (const line of text.split('\n')) {
    if (!line.includes('"net.')) continue
    try {
      const e = JSON.parse(line) as Record<string, unknown>
      if (e.type !== 'net.allowed' && e.type !== 'net.denied') continue
      out.push({
        allowed: e.type === 'net.allowed',
        host: String(e.host),
        port: Number(e.port),
        kind: String(e.kind),
        ...(typeof e.reason === 'string' ? { reason: e.reason } : {}),
        bytesIn: Number(e.bytesIn) || 0,
        durationMs: Number(e.durationMs) || 0,
        at: Number(e.at) || 0,
      })
    } catch {
      // A torn line from a crash: the rest of the log still counts.
    }
  }
  return out
}
