/**
 * The egress policy of a session (DESIGN.md §8): no network unless asked for; an allow-list
 * enforced by a per-session proxy; or open, loudly.
 */
export type NetworkMode = 'none' | 'allowlist' | 'open'

export interface NetworkPolicy {
  mode: NetworkMode
  /**
   * Allowed destinations: "pkgs.example.com" (any port), "*.example.org" (subdomains only),
   * "10.1.2.3:8080", "host:443", "[::1]:80". Presets are already expanded.
   */
  allow: string[]
  /** Refused even when an allow entry matches. Same syntax. */
  deny: string[]
}

/**
 * One connection through the proxy, as the proxy reports it (one JSON object per line on its
 * stdout) and as the bus carries it (`net.allowed` / `net.denied`).
 */
export interface NetConnection {
  /** The host name (or address) the sandbox asked for. */
  host: string
  port: number
  /** `connect`: an HTTPS (or other) tunnel; `http`: a plain HTTP request. */
  kind: 'connect' | 'http'
  /** For `http`: the method and path. */
  method?: string
  path?: string
  /** Why it was denied: "not in the allow-list", "resolves to a private address (10.0.0.5)"… */
  reason?: string
  bytesIn: number
  bytesOut: number
  durationMs: number
  at: number
}

/** A line of the proxy's stdout. */
export type ProxyEvent =
  | { type: 'ready'; port: number }
  | ({ type: 'allowed' } & NetConnection)
  | ({ type: 'denied' } & NetConnection)
  | { type: 'error'; message: string }
