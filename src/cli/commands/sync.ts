import { placedBackend } from '../../sandbox/index.js'
import { acquireSessionLock } from '../../session/lock.js'
import { discardSession } from '../../session/workspace-session.js'
import {
  defaultLockWaitMs,
  syncSession,
  undoSessionSync,
  type SessionSyncContext,
} from '../../session/session-sync.js'
import { SafeCoderError } from '../../shared/errors.js'
import { formatPlan, formatSyncResult, markedFiles } from '../../workspace/sync.js'
import { println } from '../context.js'
import { createProgressLine, type ProgressLine } from '../progress-line.js'
import { conflictsRemainStatus } from '../exit-codes.js'
import { withCommonOptions, type CommonOptions } from '../options.js'
import { openSessionContext } from '../session-context.js'
import type { RegisterCommand } from './index.js'

interface SyncOptions extends CommonOptions {
  dryRun?: boolean
  only?: string[]
  exclude?: string[]
  force?: string[]
  merge?: boolean
  yes?: boolean
  undo?: boolean
  wait?: number
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/**
 * `safe-coder sync`: bring a session's committed work back into the project, file by file,
 * three-way against what was copied in (or what its last sync wrote); conflicts are listed,
 * never overwritten; undoable, one sync at a time, newest first.
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
    .option('--undo', "restore the project as it was before this session's newest sync")
    .option(
      '--wait <seconds>',
      `wait this long for another sync of the same project (default ${defaultLockWaitMs / 1000})`,
      parseWait,
    )
    .action(async (id: string, options: SyncOptions) => {
      const session = await openSessionContext(ctx, options)
      await session.store.read(id)
      const lock = await acquireSessionLock(session.store.paths(id).lockFile, id)
      const verb = options.undo === true ? 'restoring' : 'syncing'
      const progress = createProgressLine(
        ctx.stderr,
        (done, total) => `${verb} ${done}/${total} files`,
      )
      const say = (text: string): void => {
        progress.clear()
        println(ctx.stderr, `safe-coder: ${text}`)
      }
      const syncCtx: SessionSyncContext = {
        store: session.store,
        tracking: session.tracking,
        ...(options.wait === undefined ? {} : { lockWaitMs: options.wait * 1000 }),
        onLockWait: (holder) => {
          say(`the project is being synced by ${holder}; waiting for it…`)
        },
        // A sync killed half-way is rolled back before anything else touches the project.
        onRecovered: (sync) => {
          const of = sync.sessionId === undefined ? '' : ` of session ${sync.sessionId}`
          say(
            `an interrupted sync${of} (${sync.id}) was rolled back; the project is as it was before it.`,
          )
        },
        onProgress: (done, total) => {
          progress.update(done, total)
        },
      }
      try {
        if (options.undo === true) {
          progress.show('checking the files the sync wrote…')
          const { restored, journal, projectPath } = await undoSessionSync(syncCtx, id).finally(
            () => {
              progress.clear()
            },
          )
          const n = restored.length
          println(
            ctx.stdout,
            `restored ${n} file${n === 1 ? '' : 's'} in ${projectPath} to how they were before sync ${journal}`,
          )
          return
        }
        progress.show('planning the sync…')
        setStatus(await sync(syncCtx, id, options, ctx.stdout, progress))
      } finally {
        progress.clear()
        await lock.release()
      }
    })
}

/** Plans and applies under one hold of the project lock; the status says whether conflicts remain. */
async function sync(
  ctx: SessionSyncContext,
  id: string,
  options: SyncOptions,
  out: NodeJS.WritableStream,
  progress: ProgressLine,
): Promise<number> {
  const { planned, result } = await syncSession(ctx, id, options, {
    confirmRisky: options.yes === true,
    dryRun: options.dryRun === true,
    onPlan: (p) => {
      progress.clear()
      out.write(withNewline(formatPlan(p.plan, options.yes === true ? 'yes-given' : 'needs-yes')))
      if (options.dryRun !== true) progress.show('backing up the files the sync replaces…')
    },
  })
  progress.clear()
  if (result === undefined) {
    const marked = planned.plan.items.some((item) => (item.merge?.conflicts ?? 0) > 0)
    return planned.plan.conflicts > 0 || marked ? conflictsRemainStatus : 0
  }
  out.write(withNewline(formatSyncResult(result, planned.projectPath, id)))
  return result.conflicts.length > 0 || markedFiles(result).length > 0 ? conflictsRemainStatus : 0
}

/** `--wait`: whole or fractional seconds, 0 to fail at once when the project is busy. */
function parseWait(value: string): number {
  const seconds = Number(value)
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0 || seconds > 86_400) {
    throw new SafeCoderError(
      'USAGE',
      `--wait must be a number of seconds from 0 to 86400, got ${JSON.stringify(value)}.`,
      { hint: 'For example --wait 120, or --wait 0 to fail at once when another sync runs.' },
    )
  }
  return seconds
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
      await discardSession(session.store, id, () => placedBackend(record, session.config, ctx.env))
      println(ctx.stdout, `discarded session ${id}`)
    })
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`
}
