import { displayPath } from './copy-errors.js'
import type { SyncItem, SyncPlan } from './sync-types.js'
import { writingActions } from './sync-types.js'

/** The longest action name, `noop-same`: actions line up in a column. */
const width = 9

/**
 * How the risky changes of a plan get confirmed, which decides its closing line: by `--yes`,
 * not given (`needs-yes`) or given (`yes-given`), or by a question the caller asks next (`asked`).
 */
export type RiskConfirmation = 'needs-yes' | 'yes-given' | 'asked'

const confirmationLines: Record<RiskConfirmation, string | undefined> = {
  'needs-yes': 'Risky changes need confirmation (--yes) before they are applied.',
  'yes-given': 'Risky changes confirmed with --yes.',
  asked: undefined,
}

// What `sync --dry-run` prints: enough to decide, one line per path and one per risk.
export function renderPlan(plan: SyncPlan, confirmation: RiskConfirmation): string {
  const writes = plan.items.filter((item) => writingActions.has(item.action))
  const lines = [
    `Sync plan for ${plan.projectDir}: ${writes.length} change(s), ${plan.conflicts} conflict(s), ${plan.risky} risky.`,
  ]
  for (const item of plan.items) lines.push(...renderItem(item))
  if (plan.conflicts > 0) {
    lines.push(
      'Conflicts are never overwritten: take the session version with --force PATH, or write a merge with conflict markers with --merge.',
    )
  }
  const closing = confirmationLines[confirmation]
  if (plan.risky > 0 && closing !== undefined) lines.push(closing)
  return lines.join('\n')
}

function renderItem(item: SyncItem): string[] {
  const risky = item.risky.length > 0 ? ` [risky: ${item.risky.join(', ')}]` : ''
  const plain =
    item.action === 'noop-same' ||
    (writingActions.has(item.action) && item.forced !== true && item.merge === undefined)
  const detail = plain ? '' : ` — ${item.reason}`
  const why = item.risky.flatMap((flag) => {
    const reason = item.riskReasons?.[flag]
    return reason === undefined ? [] : [`${' '.repeat(width + 4)}${flag}: ${reason}`]
  })
  return [`  ${item.action.padEnd(width)} ${displayPath(item.path)}${risky}${detail}`, ...why]
}
