import { readFileSync } from 'node:fs'
import type { z } from 'zod'
import { isSafeCoderError, type ErrorCode, type SafeCoderError } from '../../shared/errors.js'
import { truncateText } from './truncate.js'
import type { Tool, ToolContext, ToolOutcome } from './types.js'

/** Failures the model caused and can fix; every other error is the infrastructure's. */
const MODEL_ACTIONABLE: ReadonlySet<ErrorCode> = new Set(['PATH_REJECTED', 'NOT_FOUND', 'TIMEOUT'])

const SUMMARIES: Partial<Record<ErrorCode, string>> = {
  PATH_REJECTED: 'path refused',
  NOT_FOUND: 'not found',
  TIMEOUT: 'timed out',
  DISK_FULL: 'disk full',
}

/**
 * The sandbox's own disk is full (its limit, not the host's disk): the model can delete files
 * and go on, so it is told instead of the turn ending.
 */
function isModelActionable(error: unknown): error is SafeCoderError {
  if (!isSafeCoderError(error)) return false
  return (
    MODEL_ACTIONABLE.has(error.code) ||
    (error.code === 'DISK_FULL' && error.data?.inSandbox === true)
  )
}

/** A failed call the model should read and act on. */
export function toolError(output: string, summary: string): ToolOutcome {
  return { output, isError: true, changes: { kind: 'none' }, summary }
}

/**
 * Runs a call and enforces the rules every tool shares: model-actionable SafeCoderErrors
 * become error outcomes, anything else is rethrown, and the output fits `maxOutputChars`.
 */
export async function settle(
  ctx: ToolContext,
  call: () => Promise<ToolOutcome>,
): Promise<ToolOutcome> {
  let outcome: ToolOutcome
  try {
    outcome = await call()
  } catch (error) {
    if (!isModelActionable(error)) throw error
    const hint =
      error.hint ?? (error.code === 'NOT_FOUND' ? 'Check the path with list_dir or glob.' : '')
    outcome = toolError(
      hint === '' ? error.message : `${error.message} ${hint}`,
      SUMMARIES[error.code] ?? 'failed',
    )
  }
  const output = truncateText(outcome.output, ctx.limits.maxOutputChars)
  return output === outcome.output ? outcome : { ...outcome, output }
}

/** A tool whose `run` already follows the shared rules (see `settle`). */
export function defineTool<S extends z.ZodType>(tool: Tool<S>): Tool<S> {
  return { ...tool, run: (args, ctx) => settle(ctx, () => tool.run(args, ctx)) }
}

/** The description of a tool, from the `.md` file next to its module. */
export function loadDescription(file: string, moduleUrl: string): string {
  return readFileSync(new URL(file, moduleUrl), 'utf8').trim()
}
