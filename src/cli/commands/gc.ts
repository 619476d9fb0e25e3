import { createBackend, DETECTION_ORDER } from '../../sandbox/index.js'
import { reapOrphans } from '../../sandbox/gc.js'
import { println } from '../context.js'
import { loadCommandConfig, withCommonOptions, type CommonOptions } from '../options.js'
import type { RegisterCommand } from './index.js'

/** `safe-coder gc`: removes sandboxes whose owner process died. Never touches session data. */
export const registerGc: RegisterCommand = (program, ctx) => {
  withCommonOptions(program.command('gc'))
    .description(
      'remove sandboxes (containers) whose Safe Coder process is gone; session data is kept',
    )
    .option('-n, --dry-run', 'only list what would be removed')
    .action(async (options: CommonOptions & { dryRun?: boolean }) => {
      const { config } = await loadCommandConfig(ctx, options)
      const kinds =
        config.isolation.backend === 'auto' ? DETECTION_ORDER : [config.isolation.backend]
      let removed = 0
      for (const kind of kinds) {
        if (kind === 'qemu' || kind === 'firecracker') continue
        const backend = createBackend(kind, config, ctx.env)
        // An engine that is not installed holds no orphans.
        if (!(await backend.probe(ctx.signal)).available) continue
        const result = await reapOrphans(backend, {
          dryRun: options.dryRun === true,
          signal: ctx.signal,
        })
        for (const s of result.removed) {
          const verb = options.dryRun === true ? 'would remove' : 'removed'
          println(
            ctx.stdout,
            `${verb} ${kind} sandbox ${s.id.slice(0, 12)} (session ${s.sessionId}, owner pid ${s.ownerPid} gone, project ${s.projectPath})`,
          )
        }
        for (const { sandbox, why } of result.kept) {
          println(
            ctx.stdout,
            `kept ${kind} sandbox ${sandbox.id.slice(0, 12)} (session ${sandbox.sessionId}): ${why}`,
          )
        }
        removed += result.removed.length
      }
      if (removed === 0) println(ctx.stdout, 'No orphaned sandboxes.')
    })
}
