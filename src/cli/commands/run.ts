import path from 'node:path'
import type { AgentSession, TurnReport } from '../../session/agent-session.js'
import { asError, SafeCoderError, toErrorInfo, type ErrorInfo } from '../../shared/errors.js'
import { formatPlan, formatSyncResult, markedFiles, type SyncResult } from '../../workspace/sync.js'
import {
  agentProjectDirs,
  openAgentContext,
  singlePath,
  withAgentOptions,
  type AgentOptions,
} from '../agent-setup.js'
import { printSessionEvents } from '../agent-output.js'
import { isTerminal, println, type CliContext } from '../context.js'
import { conflictsRemainStatus } from '../exit-codes.js'
import type { RegisterCommand, SetStatus } from './index.js'

interface RunOptions extends AgentOptions {
  json?: boolean
  yes?: boolean
  sync?: boolean
}

/**
 * `safe-coder run "PROMPT"`: one task, headless, to completion. Progress goes to stderr, the
 * summary (or JSON) to stdout; the project changes only with `--sync`.
 */
export const registerRun: RegisterCommand = (program, ctx, setStatus) => {
  withAgentOptions(program.command('run'))
    .description('run one task headless in a new session (progress on stderr, summary on stdout)')
    .argument('<prompt>', 'what the agent should do')
    .option('--json', 'print the summary as JSON')
    .option('-y, --yes', 'approve tool calls the approval policy would ask about, and risky syncs')
    .option(
      '--sync',
      'apply the work to the project when the task succeeds (undo with sync --undo)',
    )
    .action(async (prompt: string, options: RunOptions) => {
      const printed = { summary: false }
      try {
        await runTask(ctx, prompt, options, setStatus, printed)
      } catch (error) {
        // Scripts reading --json get an object even when no session could start.
        if (options.json === true && !printed.summary) {
          println(ctx.stdout, JSON.stringify({ ok: false, error: toErrorInfo(error) }, null, 2))
        }
        throw error
      }
    })
}

async function runTask(
  ctx: CliContext,
  prompt: string,
  options: RunOptions,
  setStatus: SetStatus,
  printed: { summary: boolean },
): Promise<void> {
  if (prompt.trim() === '') {
    throw new SafeCoderError('USAGE', 'The prompt is empty.', {
      hint: 'Say what the agent should do: safe-coder run "add a test for parse()".',
    })
  }
  const paths = options.session === undefined ? [singlePath(options.path)] : []
  const agent = await openAgentContext(
    ctx,
    options,
    { interactive: false, yes: options.yes === true },
    await agentProjectDirs(ctx, paths, options.session),
  )
  const printer = printSessionEvents(agent.bus, undefined, ctx.stderr, { text: true })
  const session =
    options.session === undefined
      ? (await agent.manager.create(path.resolve(ctx.cwd, singlePath(options.path)), ctx.signal))
          .session
      : await agent.manager.open(options.session, ctx.signal)
  let report: TurnReport | undefined
  let failure: unknown
  let synced: SyncResult | undefined
  try {
    report = await session.prompt(prompt, { signal: ctx.signal })
    if (options.sync === true) {
      const planned = await session.planSync()
      const confirmation = options.yes === true ? 'yes-given' : 'needs-yes'
      ctx.stderr.write(formatPlan(planned.plan, confirmation).replace(/\n?$/, '\n'))
      synced = await session.applySync(planned, { confirmRisky: options.yes === true })
    }
  } catch (error) {
    failure = error
    report = session.lastTurn
  } finally {
    printer.dispose()
  }
  const changes = await session.changes()
  await agent.manager.closeAll()
  const summary: RunSummary = {
    ok:
      failure === undefined &&
      (synced === undefined || (synced.conflicts.length === 0 && markedFiles(synced).length === 0)),
    sessionId: session.id,
    projectPath: session.projectPath,
    backend: session.sandboxKind,
    provider: agent.model.provider,
    model: agent.model.modelId,
    answer: report?.text ?? '',
    steps: report?.steps ?? 0,
    toolCalls: report?.toolCalls ?? 0,
    commits: report?.commits ?? [],
    changedFiles: changes,
    usage: session.usage,
    ...(synced === undefined
      ? {}
      : {
          sync: {
            ...(synced.id === undefined ? {} : { journal: synced.id }),
            applied: synced.applied.length,
            conflicts: synced.conflicts.map((c) => c.path),
          },
        }),
    ...(failure === undefined ? {} : { error: toErrorInfo(failure) }),
  }
  printed.summary = true
  if (options.json === true) println(ctx.stdout, JSON.stringify(summary, null, 2))
  else {
    // On one terminal the answer was just streamed on stderr: do not print it twice.
    const sameTerminal = isTerminal(ctx.stdout) && isTerminal(ctx.stderr)
    printSummary(ctx.stdout, sameTerminal ? { ...summary, answer: '' } : summary, synced)
  }
  if (failure !== undefined) throw asError(failure)
  if (synced !== undefined && (synced.conflicts.length > 0 || markedFiles(synced).length > 0))
    setStatus(conflictsRemainStatus)
}

interface RunSummary {
  ok: boolean
  sessionId: string
  projectPath: string
  backend: string
  provider: string
  model: string
  answer: string
  steps: number
  toolCalls: number
  commits: string[]
  changedFiles: { path: string; status: string; added: number; removed: number }[]
  usage: AgentSession['usage']
  sync?: { journal?: string; applied: number; conflicts: string[] }
  error?: ErrorInfo
}

function printSummary(out: NodeJS.WritableStream, s: RunSummary, synced?: SyncResult): void {
  const lines: string[] = []
  if (s.answer !== '') lines.push(s.answer.trim(), '')
  lines.push(
    `session ${s.sessionId} (${s.backend}, ${s.provider}/${s.model}): ${s.toolCalls} tool call${s.toolCalls === 1 ? '' : 's'}, ${s.commits.length} commit${s.commits.length === 1 ? '' : 's'}, ${s.usage.totalTokens} tokens`,
  )
  if (s.changedFiles.length === 0) lines.push('no files changed')
  for (const f of s.changedFiles) {
    lines.push(`  ${f.status.padEnd(9)} ${f.path}  +${f.added} -${f.removed}`)
  }
  if (synced !== undefined) lines.push(formatSyncResult(synced, s.projectPath, s.sessionId))
  else if (s.changedFiles.length > 0) {
    lines.push(
      `review: safe-coder diff ${s.sessionId}`,
      `apply:  safe-coder sync ${s.sessionId}   (the project is unchanged until then)`,
    )
  }
  out.write(`${lines.join('\n')}\n`)
}
