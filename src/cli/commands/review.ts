import { SafeCoderError } from '../../shared/errors.js'
import { quotePath, visibleText } from '../../git/diff-escape.js'
import { diffCommits, formatStat, formatUnifiedDiff } from '../../git/diff.js'
import { findRootCommit, readLog } from '../../git/log.js'
import { readConnections } from '../../session/network.js'
import { formatBytes, formatDuration } from '../../shared/format.js'
import type { Command } from 'commander'
import { isTerminal, println } from '../context.js'
import { splitAtDoubleDash } from '../double-dash.js'
import { withCommonOptions, type CommonOptions } from '../options.js'
import { openSessionContext } from '../session-context.js'
import type { RegisterCommand } from './index.js'

/** Files listed under each commit by `safe-coder log`; the rest are summed up in one line. */
const shownFiles = 50

/** `safe-coder log` and `diff`: the session's history, read from its audit repository. */
export const registerReview: RegisterCommand = (program, ctx) => {
  withCommonOptions(program.command('log'))
    .description("a session's commits, newest first, with the files each changed")
    .argument('<session>', 'session id')
    .option('-n, --limit <n>', 'show at most n commits', parseLimit)
    .option('--json', 'print as JSON')
    .action(async (id: string, options: CommonOptions & { limit?: number; json?: boolean }) => {
      const session = await openSessionContext(ctx, options)
      await session.store.read(id)
      const json = options.json === true
      // The listing shows `shownFiles` per commit, so only those have their lines counted.
      const log = await readLog(await session.repo(id), {
        ...(options.limit === undefined ? {} : { limit: options.limit }),
        ...(json ? {} : { maxFiles: shownFiles }),
      })
      if (json) {
        println(ctx.stdout, JSON.stringify(log, null, 2))
        return
      }
      // Connections through the egress proxy, between the commits they happened among.
      const connections = (await readConnections(session.store, id)).reverse()
      const printConnectionsAfter = (ms: number): void => {
        while (connections.length > 0 && (connections[0]?.at ?? 0) >= ms) {
          const c = connections.shift()
          if (c === undefined) break
          const when = new Date(c.at).toISOString().replace('T', ' ').slice(0, 19)
          println(
            ctx.stdout,
            c.allowed
              ? `net           ${when}  allowed ${c.host}:${c.port} (${c.kind}) ${formatBytes(c.bytesIn)} in ${formatDuration(c.durationMs)}`
              : `net           ${when}  DENIED  ${visibleText(c.host)}:${c.port} (${c.kind}): ${visibleText(c.reason ?? 'not allowed')}`,
          )
        }
      }
      for (const commit of log) {
        printConnectionsAfter(commit.timestamp * 1000)
        const when = new Date(commit.timestamp * 1000).toISOString().replace('T', ' ').slice(0, 19)
        const exit = commit.trailers.Exit === undefined ? '' : `  exit ${commit.trailers.Exit}`
        // Subjects and names come from the sandbox: never let them drive the terminal.
        println(
          ctx.stdout,
          `${commit.oid.slice(0, 12)}  ${when}  ${visibleText(commit.subject)}${visibleText(exit)}`,
        )
        for (const f of commit.files.slice(0, shownFiles)) {
          const counts =
            f.binary || f.tooLarge
              ? f.tooLarge
                ? 'too large'
                : 'binary'
              : `+${f.added} -${f.removed}`
          println(
            ctx.stdout,
            `    ${f.status.padEnd(10)} ${counts.padEnd(12)} ${quotePath('', f.path)}`,
          )
        }
        const more = commit.files.length - shownFiles + (commit.moreFiles ?? 0)
        if (more > 0) println(ctx.stdout, `    … and ${more} more files`)
      }
    })

  withCommonOptions(program.command('diff'))
    .description('what a commit changed (default: the whole session against the copied-in project)')
    .argument('<session>', 'session id')
    .argument('[commit]', 'one commit (default: everything since the snapshot)')
    .argument('[paths...]', 'limit to these files or directories (after --)')
    .usage('[options] <session> [commit] [-- paths...]')
    .option('--stat', 'only a summary of changed files')
    .option('--json', 'print as JSON')
    .option('--color', 'colour the diff (default when stdout is a terminal)')
    .option('--no-color', 'never colour')
    .action(
      async (
        id: string,
        first: string | undefined,
        rest: string[],
        options: CommonOptions & { stat?: boolean; json?: boolean; color?: boolean },
        command: Command,
      ) => {
        const split = splitAtDoubleDash(command, [...(first === undefined ? [] : [first]), ...rest])
        const commit = split.before[0]
        const paths = [...split.before.slice(1), ...split.after]
        const session = await openSessionContext(ctx, options)
        await session.store.read(id)
        const repo = await session.repo(id)
        const range =
          commit === undefined ? { from: await findRootCommit(repo), to: 'HEAD' } : { to: commit }
        const diffs = await diffCommits(repo, { ...range, ...(paths.length > 0 ? { paths } : {}) })
        if (options.json === true) println(ctx.stdout, JSON.stringify(diffs, null, 2))
        else if (diffs.length === 0) return
        else if (options.stat === true) ctx.stdout.write(formatStat(diffs))
        else {
          const tty = isTerminal(ctx.stdout)
          ctx.stdout.write(formatUnifiedDiff(diffs, { color: options.color ?? tty }))
        }
      },
    )

  withCommonOptions(program.command('revert'))
    .description(
      'undo a commit (or some of its files) as a new commit; the sandbox sees the result',
    )
    .argument('<session>', 'session id')
    .argument('<commit>', 'the commit to revert')
    .argument('[paths...]', 'only these files (after --)')
    .usage('[options] <session> <commit> [-- paths...]')
    .action(async (id: string, commit: string, paths: string[], options: CommonOptions) => {
      // Only a revert needs the sandbox and session machinery: `log` and `diff` never load it.
      const [{ placedBackend }, { revertInSession }, { reclaimSession }, { acquireSessionLock }] =
        await Promise.all([
          import('../../sandbox/index.js'),
          import('../../session/review.js'),
          import('../../session/workspace-session.js'),
          import('../../session/lock.js'),
        ])
      const session = await openSessionContext(ctx, options)
      await session.store.read(id)
      const lock = await acquireSessionLock(session.store.paths(id).lockFile, id)
      try {
        // A sandbox a killed process left may still be changing the mirror: it goes first.
        const record = await session.store.read(id)
        if (record.sandboxId !== undefined) {
          await reclaimSession({
            store: session.store,
            id,
            backend: placedBackend(record, session.config, ctx.env),
            tracking: session.tracking,
            signal: ctx.signal,
          })
        }
        const result = await revertInSession(
          session,
          id,
          paths.length > 0 ? { commit, paths } : { commit },
        )
        println(
          ctx.stdout,
          `reverted ${commit.slice(0, 12)} as ${result.commit.slice(0, 12)} (${result.changed.length} files)`,
        )
      } finally {
        await lock.release()
      }
    })
}

/** `-n/--limit`: a whole number of commits, said plainly when it is not one. */
function parseLimit(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) {
    throw new SafeCoderError(
      'USAGE',
      `-n/--limit must be a whole number of commits (1 or more), got ${JSON.stringify(value)}.`,
      { hint: 'For example: safe-coder log SESSION -n 20' },
    )
  }
  return n
}
