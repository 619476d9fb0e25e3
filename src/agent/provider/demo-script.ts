import { z } from 'zod'
import { SafeCoderError } from '../../shared/errors.js'

/**
 * A demo script (`--demo-script FILE`): what the scripted model answers, turn by turn. Each
 * user message starts the next turn; each model step inside a turn takes the next step.
 */
const toolCall = z.strictObject({
  tool: z.string().min(1),
  input: z.record(z.string(), z.unknown()).default({}),
})

const step = z.strictObject({
  /** Text streamed before the tool calls (or as the answer, when there are none). */
  text: z.string().default(''),
  tool_calls: z.array(toolCall).default([]),
})

export const demoScriptSchema = z.strictObject({
  /** Pause between streamed text chunks, in milliseconds. */
  delay_ms: z.number().int().min(0).max(10_000).default(0),
  turns: z.array(z.strictObject({ steps: z.array(step).min(1) })).min(1),
})

export type DemoScript = z.infer<typeof demoScriptSchema>
export type DemoStep = z.infer<typeof step>

/** Parses a demo script file's text; errors name the file, the key and what is expected. */
export function parseDemoScript(text: string, file: string): DemoScript {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new SafeCoderError('CONFIG_INVALID', `${file} is not valid JSON.`, {
      cause: error,
      hint: 'A demo script is a JSON object: {"turns": [{"steps": [{"text": "…"}]}]}.',
      data: { file },
    })
  }
  const parsed = demoScriptSchema.safeParse(raw)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const where =
    issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.join('.')
  throw new SafeCoderError(
    'CONFIG_INVALID',
    `${file}: ${where}: ${issue?.message ?? 'invalid demo script'}.`,
    {
      hint: 'A demo script is {"delay_ms"?: n, "turns": [{"steps": [{"text"?: "…", "tool_calls"?: [{"tool": "write_file", "input": {…}}]}]}]}.',
      data: { file, key: where },
    },
  )
}
