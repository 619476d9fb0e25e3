import { selectSessionBackend } from '../../sandbox/index.js'
import { resumeSession } from '../../session/workspace-session.js'
import { warnDegraded } from '../warnings.js'
import { println } from '../context.js'
import { withCommonOptions, type CommonOptions } from '../options.js'
import { openSessionContext, sessionProjectDir } from '../session-context.js'
import type { RegisterCommand } from './index.js'

/** `safe-coder resume`: recover a session after a crash and prove a sandbox runs on its mirror. */
export const registerResume: RegisterCommand = (program, ctx) => {
  withCommonOptions(program.command('resume'))
    .description(
      'recover a session after a crash: clean up its sandbox, record leftover changes, start a new sandbox',
    )
    .argument('<session>', 'session id')
    .action(async (id: string, options: CommonOptions) => {
      const session = await openSessionContext(ctx, options, {}, [await sessionProjectDir(ctx, id)])
      // Reclaimed where it ran (a microVM's drive holds its work; a container's engine its labels).
      const record = await session.store.read(id)
      const { backend, probe } = await selectSessionBackend(id, record, session.config, {
        env: ctx.env,
        signal: ctx.signal,
        requested: options.backend,
      })
      warnDegraded(ctx, probe)
      const result = await resumeSession({
        store: session.store,
        id,
        backend,
        tracking: session.tracking,
        signal: ctx.signal,
      })
      if (result.removedSandbox !== undefined)
        println(ctx.stdout, `removed the old sandbox ${result.removedSandbox.slice(0, 12)}`)
      if (result.recovered !== undefined) {
        println(
          ctx.stdout,
          `recorded ${result.recovered.changed} file(s) an interrupted command left behind as ${result.recovered.id.slice(0, 12)}`,
        )
      }
      println(
        ctx.stdout,
        `session ${id} is ready: a new ${result.sandboxKind} sandbox started on its workspace (continue the conversation with: safe-coder chat --session ${id}, or run commands with: safe-coder exec --session ${id} -- …)`,
      )
    })
}
