import os from 'node:os'
import type { SandboxSpec } from '../types.js'

/** Labels on every container Safe Coder creates, so a crash never leaves anything unfindable. */
export const LABEL = {
  session: 'safe-coder.session',
  ownerPid: 'safe-coder.owner-pid',
  ownerHost: 'safe-coder.owner-host',
  created: 'safe-coder.created',
  path: 'safe-coder.path',
} as const

export function sandboxLabels(spec: SandboxSpec, now = Date.now()): Record<string, string> {
  return {
    [LABEL.session]: spec.sessionId,
    [LABEL.ownerPid]: String(process.pid),
    [LABEL.ownerHost]: os.hostname(),
    [LABEL.created]: new Date(now).toISOString(),
    [LABEL.path]: spec.projectPath,
  }
}
