import type { Config } from '../config/schema.js'
import { SafeCoderError } from '../shared/errors.js'
import { createBackend } from './index.js'
import type { Placement, ProbeResult, SandboxBackend } from './types.js'

/**
 * The backend an existing session runs on: the kind it recorded and, on a Docker-API backend,
 * the very engine (its endpoint, whatever DOCKER_HOST or `[docker] socket` now say). Never
 * another: a `--backend` naming a different kind is refused, and an engine that is down is
 * BACKEND_UNAVAILABLE saying so — a session's sandbox and history never move engines silently.
 */
export async function selectSessionBackend(
  sessionId: string,
  placement: Placement,
  config: Config,
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; requested?: string | undefined } = {},
): Promise<{ backend: SandboxBackend; probe: ProbeResult }> {
  const kind = placement.backend
  const where = `${kind}${placement.engine === undefined ? '' : ` at ${placement.engine}`}`
  if (
    options.requested !== undefined &&
    options.requested !== 'auto' &&
    options.requested !== kind
  ) {
    throw new SafeCoderError(
      'USAGE',
      `Session ${sessionId} runs on ${where}; --backend ${options.requested} cannot move it.`,
      {
        hint: `Drop --backend (a session always runs where it was created), or start a new session with --backend ${options.requested}.`,
        data: { sessionId, ...placement },
      },
    )
  }
  const backend = placedBackend(placement, config, options.env)
  const probe = await backend.probe(options.signal)
  if (!probe.available) {
    throw new SafeCoderError(
      'BACKEND_UNAVAILABLE',
      `Session ${sessionId} runs on ${where}, which is unavailable: ${probe.reason ?? 'unknown reason'}.`,
      {
        hint: `${probe.hint ?? 'Start it again.'} A session never moves to another backend or engine; to go on elsewhere, start a new session.`,
        data: { sessionId, ...placement, details: probe.details },
      },
    )
  }
  return { backend, probe }
}

/**
 * The backend of a session's placement, not probed: its kind and, on a Docker-API backend, its
 * recorded engine. For host work that must reach the session's own sandboxes (removing what a
 * dead process left) whatever DOCKER_HOST or `[docker] socket` say now.
 */
export function placedBackend(
  placement: Placement,
  config: Config,
  env?: NodeJS.ProcessEnv,
): SandboxBackend {
  const kind = placement.backend
  const pinned =
    placement.engine !== undefined && (kind === 'docker' || kind === 'podman')
      ? { ...config, docker: { ...config.docker, socket: placement.engine } }
      : config
  return createBackend(kind, pinned, env)
}
