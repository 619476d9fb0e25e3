import type { ToolSpec } from '../types.js'
import { bashTool } from './bash.js'
import { editFileTool } from './edit-file.js'
import { globTool } from './glob.js'
import { grepTool } from './grep.js'
import { listDirTool } from './list-dir.js'
import { settle, toolError } from './outcome.js'
import { readFileTool } from './read-file.js'
import type { Tool, ToolContext, ToolOutcome } from './types.js'
import { writeFileTool } from './write-file.js'

export type { Tool, ToolChanges, ToolContext, ToolKind, ToolLimits, ToolOutcome } from './types.js'

/** The tools every session offers, in the order the model is shown them. */
export const builtinTools: Tool[] = [
  readFileTool,
  writeFileTool,
  editFileTool,
  listDirTool,
  globTool,
  grepTool,
  bashTool,
]

/** The tools as the model sees them. */
export function toolSpecs(tools: readonly Tool[]): ToolSpec[] {
  return tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    inputSchema: tool.inputSchema,
  }))
}

/**
 * Runs one call with the model's raw arguments. Arguments that do not fit the schema, and
 * failures the model can fix, come back as `isError` outcomes; only infrastructure failures
 * (sandbox gone or failed, cancelled, internal) are thrown.
 */
export async function runTool(
  tool: Tool,
  rawInput: unknown,
  ctx: ToolContext,
): Promise<ToolOutcome> {
  const parsed = tool.inputSchema.safeParse(rawInput)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => {
      const field = issue.path.length === 0 ? '(input)' : issue.path.map(String).join('.')
      return `- ${field}: ${issue.message}`
    })
    return toolError(
      `Invalid arguments for ${tool.name}:\n${issues.join('\n')}\nFix them and call ${tool.name} again.`,
      'invalid arguments',
    )
  }
  return settle(ctx, () => tool.run(parsed.data, ctx))
}
