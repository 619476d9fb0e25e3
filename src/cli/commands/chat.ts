import path from 'node:path'
import { diffCommits, formatUnifiedDiff, readLog } from '../../git/index.js'
import type { AgentSession } from '../../session/agent-session.js'
import { discardSession } from '../../session/workspace-session.js'
import { isSafeCoderError, toErrorInfo } from '../../shared/errors.js'
import { formatPlan, formatSyncResult } from '../../workspace/sync.js'
import { writingActions } from '../../workspace/sync-types.js'
import {
  agentProjectDirs,
  openAgentContext,
  singlePath,
  withAgentOptions,
  type AgentContext,
  type AgentOptions,
} from '../agent-setup.js'
import { printSessionEvents } from '../agent-output.js'
import { isTerminal, println, type CliContext } from '../context.js'
import { createLineReader, type LineReader } from '../line-reader.js'
import type { RegisterCommand } from './index.js'
import { runDashboard } from './tui.js'

interface ChatOptions extends AgentOptions {
  tui?: boolean
}

const help = [
  'Type a request for the agent. Commands:',
  '  /diff   everything the session changed, as a diff',
  '  /log    the session history, one commit per tool call',
  '  /sync   apply the changes to the project (asks first; undo with /undo)',
  '  /undo   take the last sync back out of the project',
  '  /exit   leave (asks what to do with unsynced work)',
  'Ctrl-C cancels a running turn.',
].join('\n')

/**
 * `safe-coder chat`: a conversation with the agent on one session. Line mode (`--no-tui`)
 * streams the reply and one line per tool call; on the way out the user decides whether the
 * work is synced, kept for later or discarded — it is never dropped silently.
 */
export const registerChat: RegisterCommand = (program, ctx) => {
  withAgentOptions(program.command('chat'))
    .description('talk to the agent about a project; it works on a sandboxed copy')
    .option('--no-tui', 'line-mode chat instead of the dashboard (the default without a terminal)')
    .action(async (options: ChatOptions) => {
      const terminal = isTerminal(ctx.stdout) && isTerminal(ctx.stdin ?? process.stdin)
      if (options.tui !== false && terminal) {
        await runDashboard(ctx, {
          ...options,
          ...(options.session === undefined ? { path: [singlePath(options.path)] } : { path: [] }),
        })
        return
      }
      const paths = options.session === undefined ? [singlePath(options.path)] : []
      const agent = await openAgentContext(
        ctx,
        options,
        { interactive: true, yes: false },
        await agentProjectDirs(ctx, paths, options.session),
      )
      const session =
        options.session === undefined
          ? (
              await agent.manager.create(
                path.resolve(ctx.cwd, singlePath(options.path)),
                ctx.signal,
              )
            ).session
          : await agent.manager.open(options.session, ctx.signal)
      const reader = createLineReader(ctx.stdin ?? process.stdin, ctx.stdout)
      let choice: ExitChoice = 'keep'
      try {
        choice = await repl(ctx, agent, session, reader)
      } finally {
        reader.close()
        await agent.manager.closeAll()
      }
      if (choice === 'discard') {
        await discardSession(agent.session.store, session.id)
        println(ctx.stdout, `discarded session ${session.id}`)
      }
    })
}

type ExitChoice = 'keep' | 'discard'

async function repl(
  ctx: CliContext,
  agent: AgentContext,
  session: AgentSession,
  reader: LineReader,
): Promise<ExitChoice> {
  const out = ctx.stdout
  println(
    out,
    `session ${session.id}: a copy of ${session.projectPath} in a ${session.sandboxKind} sandbox, model ${agent.model.provider}/${agent.model.modelId}`,
  )
  if (session.messages.length > 0) {
    println(out, `continuing the conversation (${session.messages.length} messages)`)
  }
  println(out, 'Type a request, /help for commands, /exit to leave.')
  const printer = printSessionEvents(agent.bus, session.id, out, { text: true })
  const approvals = agent.bus.on('approval.requested', (e) => {
    if (e.sessionId !== session.id) return
    void reader.next(`allow ${e.tool} ${e.args}? [y/N] `).then((answer) => {
      session.approve(e.requestId, /^y(es)?$/i.test(answer?.trim() ?? ''))
    })
  })
  reader.onInterrupt(() => {
    if (session.busy) {
      println(out, '\n(cancelling the turn)')
      session.abort()
    } else println(out, '\n(type /exit to leave)')
  })
  const onAbort = (): void => {
    session.abort()
  }
  ctx.signal.addEventListener('abort', onAbort, { once: true })
  try {
    for (;;) {
      if (ctx.signal.aborted) return 'keep'
      const line = await reader.next('you> ')
      if (line === undefined) break
      const text = line.trim()
      if (text === '') continue
      if (text.startsWith('/')) {
        if (text === '/exit' || text === '/quit') break
        await command(ctx, agent, session, reader, text)
        continue
      }
      try {
        await session.prompt(text, { signal: ctx.signal })
      } catch (error) {
        const info = toErrorInfo(error)
        println(
          out,
          isSafeCoderError(error, 'ABORTED') ? '(turn cancelled)' : `error: ${info.message}`,
        )
        if (info.hint !== undefined && !isSafeCoderError(error, 'ABORTED'))
          println(out, `  hint: ${info.hint}`)
      }
    }
    return await onExit(ctx, session, reader)
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    approvals.dispose()
    printer.dispose()
  }
}

async function command(
  ctx: CliContext,
  agent: AgentContext,
  session: AgentSession,
  reader: LineReader,
  text: string,
): Promise<void> {
  const out = ctx.stdout
  try {
    switch (text.split(/\s+/)[0]) {
      case '/help':
        println(out, help)
        return
      case '/diff': {
        const repo = await agent.session.repo(session.id)
        const record = await agent.session.store.read(session.id)
        const diffs = await diffCommits(repo, {
          ...(record.baseCommit === undefined ? {} : { from: record.baseCommit }),
        })
        out.write(
          diffs.length === 0 ? 'no changes yet\n' : formatUnifiedDiff(diffs, { color: false }),
        )
        return
      }
      case '/log': {
        const log = await readLog(await agent.session.repo(session.id), { limit: 30 })
        for (const c of log)
          println(
            out,
            `${c.oid.slice(0, 12)}  ${c.subject}  (${c.files.length} file${c.files.length === 1 ? '' : 's'})`,
          )
        return
      }
      case '/sync':
        await syncInteractively(ctx, session, reader)
        return
      case '/undo': {
        const undone = await session.undoSync()
        println(out, `restored ${undone.restored.length} file(s) in ${undone.projectPath}`)
        return
      }
      default:
        println(out, `unknown command ${text}; /help lists them`)
    }
  } catch (error) {
    const info = toErrorInfo(error)
    println(out, `error: ${info.message}${info.hint === undefined ? '' : `\n  hint: ${info.hint}`}`)
  }
}

async function syncInteractively(
  ctx: CliContext,
  session: AgentSession,
  reader: LineReader,
): Promise<boolean> {
  const out = ctx.stdout
  const planned = await session.planSync()
  out.write(formatPlan(planned.plan, 'asked').replace(/\n?$/, '\n'))
  const writes = planned.plan.items.filter((i) => writingActions.has(i.action))
  if (writes.length === 0) {
    println(out, planned.plan.conflicts > 0 ? 'only conflicts; nothing applied' : 'nothing to sync')
    return planned.plan.conflicts === 0
  }
  const risky = planned.plan.risky > 0 ? ` (${planned.plan.risky} flagged risky, see above)` : ''
  const answer = await reader.next(`apply these changes to ${planned.projectPath}${risky}? [y/N] `)
  if (!/^y(es)?$/i.test(answer?.trim() ?? '')) {
    println(out, 'not synced; the work stays in the session')
    return false
  }
  const result = await session.applySync(planned, { confirmRisky: true })
  println(out, formatSyncResult(result, planned.projectPath, session.id))
  return true
}

/** Work is never dropped: ask what to do with unsynced changes; no answer keeps them. */
async function onExit(
  ctx: CliContext,
  session: AgentSession,
  reader: LineReader,
): Promise<ExitChoice> {
  const out = ctx.stdout
  const changes = await session.changes({ sinceSync: true })
  if (changes.length === 0) {
    println(
      out,
      `nothing unsynced; session ${session.id} is kept (safe-coder discard ${session.id} removes it)`,
    )
    return 'keep'
  }
  println(out, `the session changed ${changes.length} file(s) that are not in the project yet:`)
  for (const c of changes.slice(0, 20))
    println(out, `  ${c.status.padEnd(9)} ${c.path}  +${c.added} -${c.removed}`)
  const answer =
    (await reader.next('[s]ync to the project, [k]eep for later, or [d]iscard? [k] ')) ?? ''
  const choice = answer.trim().toLowerCase()
  if (choice.startsWith('s')) {
    if (await syncInteractively(ctx, session, reader)) return 'keep'
  } else if (choice.startsWith('d')) {
    const sure = await reader.next(
      `discard ${changes.length} changed file(s) for good? type "discard" to confirm: `,
    )
    if (sure?.trim() === 'discard') return 'discard'
  }
  println(
    out,
    `kept: review with \`safe-coder diff ${session.id}\`, apply with \`safe-coder sync ${session.id}\`, continue with \`safe-coder chat --session ${session.id}\``,
  )
  return 'keep'
}
