/**
 * One sync of a session in a process of its own, for the tests of syncs that run at once: it
 * prints `wrote` after its first write and then stops there for good, holding the project's
 * lock, until the test kills it (a sync killed half-way).
 *
 *   node --import tsx test/unit/session/sync-child.ts STATE_DIR SESSION_ID
 */
import { applySessionSync, planSessionSync } from '../../../src/session/session-sync.js'
import { SessionStore } from '../../../src/session/store.js'

const [stateDir = '', id = ''] = process.argv.slice(2)
const ctx = {
  store: new SessionStore(stateDir),
  // As sync-fixtures' (which imports vitest, so it cannot be loaded here).
  tracking: { maxFileBytes: 1024 * 1024, exclude: [] },
  afterWrite: (count: number): Promise<void> | undefined => {
    if (count !== 1) return undefined
    process.stdout.write('wrote\n')
    setInterval(() => undefined, 60_000)
    return new Promise<void>(() => undefined)
  },
}
await applySessionSync(ctx, await planSessionSync(ctx, id), { confirmRisky: true })
