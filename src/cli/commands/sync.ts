import { headCommit } from '../../git/index.js'
import { placedBackend } from '../../sandbox/index.js'
import { discardSessions, oneBackendPerEngine, pickSessions } from '../../session/discard-many.js'
import type { SessionRecord } from '../../session/record.js'
import { hasFilter, type SessionFilter } from '../../session/session-filter.js'
import { acquireSessionLock } from '../../session/lock.js'
import {
  defaultLockWaitMs,
  syncSession,
  undoSessionSync,
  type SessionSyncContext,
} from '../../session/session-sync.js'
import { SafeCoderError, toErrorInfo } from '../../shared/errors.js'
import { formatPlan, formatSyncResult, markedFiles } from '../../workspace/sync.js'
import { isTerminal, println } from '../context.js'
import { createProgressLine, type ProgressLine } from '../progress-line.js'
import { conflictsRemainStatus, exitCodes } from '../exit-codes.js'
import { parseDuration, withCommonOptions, type CommonOptions } from '../options.js'
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

interface DiscardOptions extends CommonOptions {
  yes?: boolean
  dryRun?: boolean
  synced?: boolean
  empty?: boolean
  olderThan?: number
}

/**
 * `safe-coder discard`: remove sessions' sandboxes and data, after asking — the sessions named,
 * or those of the store the filters pick (all filters must hold). One process does them all,
 * a few at a time; one that fails is named and the others go on.
 */
export const registerDiscard: RegisterCommand = (program, ctx, setStatus) => {
  withCommonOptions(program.command('discard'))
    .description(
      "delete sessions' sandboxes, copies and histories (asks first unless --yes or --dry-run)",
    )
    .argument('[sessions...]', 'session ids (default with a filter: every session)')
    .option('--synced', 'only sessions with nothing left to sync')
    .option('--empty', 'only sessions with no recorded changes')
    .option(
      '--older-than <duration>',
      'only sessions last active longer ago than this (7d, 12h, 30m)',
      (value: string) => parseDuration(value, '--older-than'),
    )
    .option('-n, --dry-run', 'list what would be discarded and change nothing')
    .option('-y, --yes', 'do not ask')
    .action(async (ids: string[], options: DiscardOptions) => {
      const filter: SessionFilter = {
        ...(options.synced === true ? { synced: true } : {}),
        ...(options.empty === true ? { empty: true } : {}),
        ...(options.olderThan === undefined ? {} : { olderThanMs: options.olderThan }),
      }
      if (ids.length === 0 && !hasFilter(filter)) {
        throw new SafeCoderError('USAGE', 'discard needs session ids or a filter.', {
          hint: 'For example: safe-coder discard ID…, or safe-coder discard --empty --older-than 7d',
        })
      }
      const session = await openSessionContext(ctx, options)
      const say = (text: string): void => {
        println(ctx.stderr, `safe-coder: ${text}`)
      }
      let failedStatus: number | undefined
      let failures = 0
      const fail = (id: string, error: unknown): void => {
        failures++
        const info = toErrorInfo(error)
        say(`cannot discard ${id}: ${info.message}`)
        if (info.hint !== undefined) println(ctx.stderr, `  hint: ${info.hint}`)
        failedStatus ??= exitCodes[info.code]
      }
      const named = ids.length > 0
      const { picked, kept, unreadable } = await pickSessions({
        store: session.store,
        ids,
        filter,
        headOf: (id) =>
          session
            .repo(id)
            .then(headCommit)
            .catch(() => undefined),
        now: Date.now(),
      })
      for (const { id, error } of unreadable) fail(id, error)
      // Every session of the store that a filter rules out is not news; a named one is.
      if (named) for (const k of kept) say(`kept ${k.id}: it does not match ${k.failed.join(', ')}`)
      if (options.dryRun === true) {
        for (const r of picked) println(ctx.stdout, `would discard session ${r.id}${describe(r)}`)
        say(`${count(picked.length)} would be discarded`)
      } else if (picked.length > 0 && options.yes !== true) {
        const only = picked[0]
        throw new SafeCoderError(
          'USAGE',
          picked.length === 1 && only !== undefined
            ? `Discarding session ${only.id} deletes its work (${only.commits} commits${only.syncedCommit === undefined ? ', never synced' : ''}).`
            : `Discarding ${count(picked.length)} deletes their work.`,
          { hint: 'Add --yes to confirm, or --dry-run to list them first.' },
        )
      } else {
        const backendFor = oneBackendPerEngine(picked, (record) =>
          placedBackend(record, session.config, ctx.env),
        )
        const progress = isTerminal(ctx.stderr) && picked.length > 1
        let done = 0
        let discarded = 0
        if (progress) ctx.stderr.write(`discarding 0/${picked.length}`)
        await discardSessions({
          store: session.store,
          ids: picked.map((r) => r.id),
          backendFor,
          onDone: (outcome) => {
            done++
            if (progress) ctx.stderr.write('\r\x1b[K')
            if (outcome.ok) {
              discarded++
              println(ctx.stdout, `discarded session ${outcome.id}`)
            } else fail(outcome.id, outcome.error)
            if (progress && done < picked.length)
              ctx.stderr.write(`discarding ${done}/${picked.length}`)
          },
        })
        // One session named: its own line (or its error) says it all.
        if (picked.length > 1 || !named)
          say(`discarded ${count(discarded)}${failures > 0 ? `; ${failures} failed` : ''}`)
      }
      if (failedStatus !== undefined) setStatus(failedStatus)
    })
}

function count(n: number): string {
  return `${n} session${n === 1 ? '' : 's'}`
}

/** What `--dry-run` shows of a session: its project and how much work it holds. */
function describe(r: SessionRecord): string {
  const synced = r.syncedCommit === undefined ? 'never synced' : 'synced'
  return ` (${r.commits} commit${r.commits === 1 ? '' : 's'}, ${synced}, last active ${r.updatedAt}, ${r.projectPath})`
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`
}
