import { changedPaths, headCommit } from '../../git/index.js'
import { isProcessAlive } from '../../shared/process-alive.js'
import { println } from '../context.js'
import { withCommonOptions, type CommonOptions } from '../options.js'
import { openSessionContext } from '../session-context.js'
import type { RegisterCommand } from './index.js'

/** `safe-coder sessions`: every session, what it holds, and whether its work is synced. */
export const registerSessions: RegisterCommand = (program, ctx) => {
  withCommonOptions(program.command('sessions'))
    .description('list sessions: status, backend, project, commits, changed files, unsynced work')
    .option('--json', 'print as JSON')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      const session = await openSessionContext(ctx, options)
      const { sessions, damaged } = await session.store.list()
      const rows = await Promise.all(
        sessions.map(async (record) => {
          let head: string | undefined
          let changed: number | undefined
          try {
            const repo = await session.repo(record.id)
            head = await headCommit(repo)
            changed =
              record.baseCommit === undefined
                ? 0
                : (await changedPaths(repo, record.baseCommit, head)).length
          } catch {
            // A session whose history cannot be read is still listed; `log` says why.
          }
          const ownerAlive = record.status === 'active' && isProcessAlive(record.ownerPid)
          // An "active" session whose process died was interrupted: it is stopped, its work kept.
          const status = record.status === 'active' && !ownerAlive ? 'stopped' : record.status
          const unsynced =
            head !== undefined && head !== record.baseCommit && head !== record.syncedCommit
          return { ...record, status, head, changedFiles: changed, unsynced, ownerAlive }
        }),
      )
      if (options.json === true) {
        println(ctx.stdout, JSON.stringify({ version: 1, sessions: rows, damaged }, null, 2))
        return
      }
      if (rows.length === 0 && damaged.length === 0) {
        println(ctx.stdout, 'No sessions. `safe-coder exec -- CMD` starts one.')
        return
      }
      println(
        ctx.stdout,
        `${'SESSION'.padEnd(20)} ${'STATUS'.padEnd(9)} ${'BACKEND'.padEnd(8)} ${'COMMITS'.padStart(7)} ${'CHANGED'.padStart(7)}  ${'SYNC'.padEnd(8)} PROJECT`,
      )
      for (const r of rows) {
        const sync = r.unsynced ? 'unsynced' : r.syncedCommit !== undefined ? 'synced' : '-'
        println(
          ctx.stdout,
          `${r.id.padEnd(20)} ${r.status.padEnd(9)} ${r.backend.padEnd(8)} ${String(r.commits).padStart(7)} ${String(r.changedFiles ?? '?').padStart(7)}  ${sync.padEnd(8)} ${r.projectPath}${networkNote(r.network?.mode)}`,
        )
      }
      for (const d of damaged) println(ctx.stdout, `${d.id.padEnd(20)} damaged   ${d.message}`)
    })
}

/** Sessions with network say so; an open one says it loudly. */
function networkNote(mode: 'none' | 'allowlist' | 'open' | undefined): string {
  if (mode === 'open') return '  [OPEN NETWORK: unrestricted]'
  if (mode === 'allowlist') return '  [network: allow-list]'
  return ''
}
