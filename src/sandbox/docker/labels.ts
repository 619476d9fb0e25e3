import os from 'node:os'
import type { SandboxSpec } from '../types.js'

/** Labels on every container Safe Coder creates, so a crash never leaves anything unfindable. */
export const LABEL = {
  session: 'safe-coder.session',
  ownerPid: 'safe-coder.owner-pid',
  ownerHost: 'safe-coder.owner-host',
  created: 'safe-coder.created',
  path: 'safe-coder.path',
  /** What the object is; absent on sandboxes made before networks existed. */
  role: 'safe-coder.role',
} as const

/** The sandbox itself, its egress proxy, the proof of its network, or one of its networks. */
export type ResourceRole = 'sandbox' | 'egress-proxy' | 'network-proof' | 'network'

export function sandboxLabels(
  spec: SandboxSpec,
  now = Date.now(),
  role: ResourceRole = 'sandbox',
): Record<string, string> {
  return {
    [LABEL.session]: spec.sessionId,
    [LABEL.ownerPid]: String(process.pid),
    [LABEL.ownerHost]: os.hostname(),
    [LABEL.created]: new Date(now).toISOString(),
    [LABEL.path]: spec.projectPath,
    [LABEL.role]: role,
  }
}

/** Who made a set of resources: one session in one process on one host. */
export interface Owner {
  sessionId: string
  ownerPid: number
  ownerHost: string
}

export function ownerOf(labels: Record<string, string> | undefined): Owner {
  return {
    sessionId: labels?.[LABEL.session] ?? '',
    ownerPid: Number(labels?.[LABEL.ownerPid] ?? 0),
    ownerHost: labels?.[LABEL.ownerHost] ?? '',
  }
}

/** Engine label filters matching exactly the resources of `owner`. */
export function ownerFilter(owner: Owner): string[] {
  return [
    `${LABEL.session}=${owner.sessionId}`,
    `${LABEL.ownerPid}=${owner.ownerPid}`,
    `${LABEL.ownerHost}=${owner.ownerHost}`,
  ]
}

export function ownerKey(owner: Owner): string {
  return JSON.stringify([owner.sessionId, owner.ownerPid, owner.ownerHost])
}
