import { listSessions } from '../../session/listing.js'
import { SessionStore } from '../../session/store.js'
import { println } from '../context.js'
import { openStateDir } from '../state-dir.js'
import type { RegisterCommand } from './index.js'

/** `safe-coder sessions`: every session, what it holds, and whether its work is synced. */
export const registerSessions: RegisterCommand = (program, ctx) => {
  program
    .command('sessions')
    .description('list sessions: status, backend, project, commits, changed files, unsynced work')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      // Listing reads only the store and the histories: no configuration, no engine.
      const store = new SessionStore(await openStateDir(ctx.env))
      const { sessions: rows, damaged } = await listSessions(store)
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
