import type { z } from 'zod'
import type { Sandbox } from '../../sandbox/types.js'

/** What a tool may do, for the approval policy: reads never ask, writes and commands may. */
export type ToolKind = 'read' | 'write' | 'exec'

/** Everything a tool may touch. It acts only through `sandbox`; it never sees the host. */
export interface ToolContext {
  sandbox: Sandbox
  /** Fires when the turn is cancelled; pass it to every sandbox call. */
  signal: AbortSignal
  limits: ToolLimits
}

export interface ToolLimits {
  /** Characters of output returned to the model; the rest is cut with a marker. */
  maxOutputChars: number
  /** Default and ceiling for `bash` timeouts, in milliseconds. */
  bashTimeoutMs: number
}

/** What the session needs to record a call: which paths it may have changed. */
export type ToolChanges =
  /** Read-only: nothing to commit. */
  | { kind: 'none' }
  /** These workspace-relative paths (deleted ones included). */
  | { kind: 'paths'; paths: string[] }
  /** A shell command: anything may have changed; scan the mirror. */
  | { kind: 'scan' }

export interface ToolOutcome {
  /** The text the model reads. */
  output: string
  /** true when the call failed in a way the model should see and fix (bad path, no match…). */
  isError: boolean
  changes: ToolChanges
  /** One line for people: "edited src/a.ts", "exit 0 in 1.2 s", "12 matches". */
  summary: string
  /** `bash` only: the command's exit status (null when it was killed), for the commit trailer. */
  exitCode?: number | null
}

export interface Tool<S extends z.ZodType = z.ZodType> {
  name: string
  /** From the tool's sibling `.md` file. */
  description: string
  inputSchema: S
  kind: ToolKind
  /** A short, one-line rendering of the arguments for commit messages and tool lines. */
  describe(args: z.infer<S>): string
  /**
   * Runs the call. Failures the model can act on (bad path, missing file, no match, a timed-out
   * command) are returned as `isError: true`; a non-zero exit of `bash` is data (`isError:
   * false`, the exit code in the output). Infrastructure failures (sandbox gone) are thrown, and
   * so is cancellation, except by `bash`, which returns what the command printed before it was
   * killed.
   */
  run(args: z.infer<S>, ctx: ToolContext): Promise<ToolOutcome>
}
