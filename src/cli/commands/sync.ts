import { readFile, rm } from 'node:fs/promises'
import { changedPaths, gitSyncSource, headCommit } from '../../git/index.js'
import { acquireSessionLock } from '../../session/lock.js'
import type { Manifest } from '../../shared/manifest.js'
import { SafeCoderError } from '../../shared/errors.js'
import { applySync, formatPlan, planSync, recoverSync, undoSync } from '../../workspace/sync.js'
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
      const record = await session.store.read(id)
      const paths = session.store.paths(id)
      const lock = await acquireSessionLock(paths.lockFile, id)
      try {
        // A sync killed half-way is rolled back before anything else touches the project.
        const recovered = await recoverSync({
          journalDir: paths.journals,
          projectDir: record.projectPath,
        })
        if (recovered.recovered !== undefined) {
          println(
            ctx.stderr,
            `safe-coder: an interrupted sync (${recovered.recovered}) was ${recovered.action === 'completed' ? 'completed' : 'rolled back'}; the project is as it was before it.`,
          )
        }
        if (options.undo === true) {
          await undo(session, id, record.lastSync, record.projectPath, ctx.stdout)
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
  const record = await session.store.read(id)
  const paths = session.store.paths(id)
  if (record.baseCommit === undefined) {
    throw new SafeCoderError('NOT_FOUND', `Session ${id} has no snapshot to sync from.`)
  }
  const repo = await session.repo(id)
  const head = await headCommit(repo)
  const base = JSON.parse(await readFile(paths.baseManifest, 'utf8')) as Manifest
  const source = gitSyncSource(repo, head)
  const baseSource = gitSyncSource(repo, record.baseCommit)
  const plan = await planSync({
    projectDir: record.projectPath,
    base,
    source,
    changed: await changedPaths(repo, record.baseCommit, head),
    maxFileBytes: session.tracking.maxFileBytes,
    readBase: (path, entry) => baseSource.read(path, entry),
    ...(options.only === undefined ? {} : { only: options.only }),
    ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
    ...(options.force === undefined ? {} : { force: options.force }),
    ...(options.merge === true ? { merge: true } : {}),
  })
  out.write(withNewline(formatPlan(plan)))
  if (options.dryRun === true) return plan.conflicts > 0 ? 65 : 0
  const result = await applySync(plan, {
    source,
    journalDir: paths.journals,
    confirmRisky: options.yes === true,
  })
  await session.store.update(id, () => ({
    status: 'synced',
    lastSync: result.id,
    syncedCommit: head,
  }))
  await session.store.appendEvent(id, {
    type: 'sync',
    journal: result.id,
    applied: result.applied.length,
    conflicts: result.conflicts.length,
  })
  out.write(
    `applied ${result.applied.length} change${result.applied.length === 1 ? '' : 's'} to ${record.projectPath}` +
      (result.conflicts.length > 0
        ? `; ${result.conflicts.length} conflict(s) left untouched (see above; --force PATH or --merge)`
        : '') +
      `\nundo with: safe-coder sync --undo ${id}\n`,
  )
  return result.conflicts.length > 0 ? 65 : 0
}

async function undo(
  session: SessionContext,
  id: string,
  journal: string | undefined,
  projectDir: string,
  out: NodeJS.WritableStream,
): Promise<void> {
  if (journal === undefined) {
    throw new SafeCoderError('NOT_FOUND', `Session ${id} has no sync to undo.`, {
      hint: '`safe-coder sessions` shows which sessions were synced.',
    })
  }
  const { restored } = await undoSync({
    journalDir: session.store.paths(id).journals,
    id: journal,
    projectDir,
  })
  await session.store.update(id, () => ({
    status: 'stopped',
    lastSync: undefined,
    syncedCommit: undefined,
  }))
  await session.store.appendEvent(id, { type: 'sync.undone', journal })
  out.write(
    `restored ${restored.length} file${restored.length === 1 ? '' : 's'} in ${projectDir} to how they were before sync ${journal}\n`,
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
      const lock = await acquireSessionLock(session.store.paths(id).lockFile, id)
      try {
        await rm(session.store.paths(id).dir, { recursive: true, force: true })
      } finally {
        await lock.release().catch(() => undefined)
      }
      println(ctx.stdout, `discarded session ${id}`)
    })
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`
}
