import type { Bus } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import type { ToolKind } from '../agent/tools/types.js'
import type { ApprovalPolicy } from '../config/schema.js'
import { SafeCoderError } from '../shared/errors.js'
import { createId } from '../shared/ids.js'

export interface ApprovalSettings {
  policy: ApprovalPolicy
  /**
   * Whether someone can answer: the dashboard or the REPL. Headless runs cannot, so under
   * "ask" they decide by policy without waiting: denied, unless `--yes` turned "ask" into "auto".
   */
  interactive: boolean
}

/** Decides whether a tool call may run, asking on the bus when the policy says to. */
export class ApprovalGate {
  readonly #pending = new Map<string, (approved: boolean) => void>()

  constructor(
    private readonly sessionId: string,
    private readonly settings: ApprovalSettings,
    private readonly bus: Bus<EventMap>,
  ) {}

  async decide(
    call: { callId: string; tool: string; kind: ToolKind; args: string },
    signal: AbortSignal,
  ): Promise<{ approved: boolean; by: 'user' | 'policy' }> {
    const { policy, interactive } = this.settings
    if (call.kind === 'read' || policy === 'auto') return { approved: true, by: 'policy' }
    const requestId = createId('approval')
    if (policy === 'deny' || !interactive) {
      this.bus.emit('approval.resolved', {
        sessionId: this.sessionId,
        requestId,
        approved: false,
        by: 'policy',
      })
      return { approved: false, by: 'policy' }
    }
    this.bus.emit('approval.requested', {
      sessionId: this.sessionId,
      requestId,
      callId: call.callId,
      tool: call.tool,
      args: call.args,
    })
    const approved = await new Promise<boolean>((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(requestId)
        reject(new SafeCoderError('ABORTED', 'The approval request was cancelled.'))
      }
      if (signal.aborted) {
        onAbort()
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(requestId, (answer) => {
        signal.removeEventListener('abort', onAbort)
        resolve(answer)
      })
    })
    this.bus.emit('approval.resolved', {
      sessionId: this.sessionId,
      requestId,
      approved,
      by: 'user',
    })
    return { approved, by: 'user' }
  }

  /** The user's answer to a request; false when the request is unknown (already answered). */
  resolve(requestId: string, approved: boolean): boolean {
    const answer = this.#pending.get(requestId)
    if (answer === undefined) return false
    this.#pending.delete(requestId)
    answer(approved)
    return true
  }
}
