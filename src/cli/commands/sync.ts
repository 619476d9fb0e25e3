import { createBackend } from '../../sandbox/index.js'
import { acquireSessionLock } from '../../session/lock.js'
import { discardSession } from '../../session/workspace-session.js'
import {
  applySessionSync,
  planSessionSync,
  recoverSessionSync,
  undoSessionSync,
} from '../../session/session-sync.js'
import { SafeCoderError } from '../../shared/errors.js'
import { formatPlan, formatSyncResult } from '../../workspace/sync.js'
import { println } from '../context.js'
import { withCommonOptions, type CommonOptions } from '../options.js'
import { openSessionContext, type SessionContext } from '../session-context.js'
import type { RegisterCommand } from './index.js'

interface SyncOptions extends CommonOptions {
  dryRun?: boolean
  only?: string[]
  exclude?: string[]
  force?: string[]
  merge?: boolean
  yes?: boolean
  undo?: boolean
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/**
 * `safe-coder sync`: bring a session's committed work back into the project, file by file,
 * three-way against what was copied in; conflicts are listed, never overwritten; undoable.
 */
export const registerSync: RegisterCommand = (program, ctx, setStatus) => {
  withCommonOptions(program.command('sync'))
    .description(
      "apply a session's work to the project (three-way, journaled, undoable with --undo)",
    )
    .argument('<session>', 'session id')
    .option('-n, --dry-run', 'print the plan and change nothing')
    .option('--only <path>', 'apply only this file or directory (repeatable)', collect)
    .option('--exclude <path>', 'leave this file or directory out (repeatable)', collect)
    .option(
      '--force <path>',
      "take the session's version of this conflicting path (repeatable)",
      collect,
    )
    .option('--merge', 'write conflicting text files merged, with conflict markers')
    .option(
      '-y, --yes',
      'apply risky changes (CI workflows, scripts, executables, …) without asking',
    )
    .option('--undo', 'restore the project as it was before the last sync of this session')
    .action(async (id: string, options: SyncOptions) => {
      const session = await openSessionContext(ctx, options)
      await session.store.read(id)
      const lock = await acquireSessionLock(session.store.paths(id).lockFile, id)
      try {
        // A sync killed half-way is rolled back before anything else touches the project.
        const recovered = await recoverSessionSync(session, id)
        if (recovered.recovered !== undefined) {
          println(
            ctx.stderr,
            `safe-coder: an interrupted sync (${recovered.recovered}) was ${recovered.action === 'completed' ? 'completed' : 'rolled back'}; the project is as it was before it.`,
          )
        }
        if (options.undo === true) {
          await undo(session, id, ctx.stdout)
          return
        }
        setStatus(await sync(session, id, options, ctx.stdout))
      } finally {
        await lock.release()
      }
    })
}

async function sync(
  session: SessionContext,
  id: string,
  options: SyncOptions,
  out: NodeJS.WritableStream,
): Promise<number> {
  const planned = await planSessionSync(session, id, options)
  out.write(withNewline(formatPlan(planned.plan)))
  if (options.dryRun === true) return planned.plan.conflicts > 0 ? 65 : 0
  const result = await applySessionSync(session, planned, { confirmRisky: options.yes === true })
  out.write(withNewline(formatSyncResult(result, planned.projectPath, id)))
  return result.conflicts.length > 0 ? 65 : 0
}

async function undo(
  session: SessionContext,
  id: string,
  out: NodeJS.WritableStream,
): Promise<void> {
  const { restored, journal, projectPath } = await undoSessionSync(session, id)
  out.write(
    `restored ${restored.length} file${restored.length === 1 ? '' : 's'} in ${projectPath} to how they were before sync ${journal}\n`,
  )
}

/** `safe-coder discard`: remove a session's sandbox and data, after asking. */
export const registerDiscard: RegisterCommand = (program, ctx) => {
  withCommonOptions(program.command('discard'))
    .description("delete a session's sandbox, copy and history (asks first unless --yes)")
    .argument('<session>', 'session id')
    .option('-y, --yes', 'do not ask')
    .action(async (id: string, options: CommonOptions & { yes?: boolean }) => {
      const session = await openSessionContext(ctx, options)
      const record = await session.store.read(id)
      if (options.yes !== true) {
        throw new SafeCoderError(
          'USAGE',
          `Discarding session ${id} deletes its work (${record.commits} commits${record.syncedCommit === undefined ? ', never synced' : ''}).`,
          {
            hint: `Run \`safe-coder discard ${id} --yes\` to confirm.`,
          },
        )
      }
      await discardSession(session.store, id, (kind) =>
        createBackend(kind, session.config, ctx.env),
      )
      println(ctx.stdout, `discarded session ${id}`)
    })
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`
}
