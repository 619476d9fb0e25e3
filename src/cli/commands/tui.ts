import path from 'node:path'
import { LocalSessionClient } from '../../session/local-client.js'
import { isSafeCoderError } from '../../shared/errors.js'
import { openDashboard } from '../../tui/index.js'
import {
  agentProjectDirs,
  openAgentContext,
  withAgentOptions,
  type AgentOptions,
} from '../agent-setup.js'
import type { CliContext } from '../context.js'
import type { RegisterCommand } from './index.js'

interface TuiOptions extends AgentOptions {
  attach?: string
}

/**
 * `safe-coder tui`: the dashboard, with a session on each `--path` (the current directory when
 * none is given), and every session other Safe Coder processes are running beside them.
 */
export const registerTui: RegisterCommand = (program, ctx) => {
  withAgentOptions(program.command('tui'), { manyPaths: true })
    .description('the dashboard: chat, process logs, gauges, history and review of many sessions')
    .option(
      '--attach <id>',
      'focus this session (opened here, or watched if another process runs it)',
    )
    .action(async (options: TuiOptions) => {
      await runDashboard(ctx, options)
    })
}

/** Opens the dashboard on the sessions the options name; shared with `chat`. */
export async function runDashboard(ctx: CliContext, options: TuiOptions): Promise<void> {
  const paths = Array.isArray(options.path)
    ? options.path
    : options.path === undefined
      ? []
      : [options.path]
  let attach = options.attach ?? options.session
  const wanted = paths.length > 0 || attach === undefined ? (paths.length > 0 ? paths : ['.']) : []
  const agent = await openAgentContext(
    ctx,
    options,
    { interactive: true, yes: false },
    await agentProjectDirs(ctx, wanted, attach),
  )
  const monitor = new AbortController()
  const client = new LocalSessionClient({
    manager: agent.manager,
    store: agent.session.store,
    tracking: agent.session.tracking,
    bus: agent.bus,
    monitor: monitor.signal,
  })
  try {
    if (attach !== undefined) {
      // Ours when nobody runs it; otherwise the monitor brings it in from its owner.
      await agent.manager.open(attach, ctx.signal).catch((error: unknown) => {
        if (!isSafeCoderError(error, 'USAGE')) throw error
      })
    }
    for (const dir of wanted) {
      const { session } = await agent.manager.create(path.resolve(ctx.cwd, dir), ctx.signal)
      attach ??= session.id
    }
    const dashboard = openDashboard({
      bus: agent.bus,
      client,
      env: ctx.env,
      ...(ctx.stdin === undefined ? {} : { input: ctx.stdin }),
      output: ctx.stdout,
      config: {
        mouse: agent.config.tui.mouse,
        fps: agent.config.tui.fps,
        logLines: agent.config.tui.log_lines,
        keys: agent.config.tui.keys,
      },
      ...(attach === undefined ? {} : { attach }),
    })
    const onAbort = (): void => {
      void dashboard.quit()
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    try {
      await dashboard.done
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
    }
  } finally {
    monitor.abort()
    await agent.manager.closeAll()
  }
}
