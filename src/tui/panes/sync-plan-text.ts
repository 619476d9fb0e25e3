import type { SyncPlanView } from '../../session/client.js'
import { riskWord } from './review-files.js'

/** The plan's actions that write to the project (the rest are no-ops, conflicts and skips). */
const writing = new Set(['create', 'modify', 'delete', 'mode'])

export function countChanges(plan: SyncPlanView): number {
  return plan.items.filter((item) => writing.has(item.action)).length
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/**
 * What the sync modal shows above the confirmation, most important first (small terminals cut
 * the end): the counts, why each risky file is risky, what conflicts mean and how to resolve
 * them, then the plan as `sync --dry-run` prints it.
 */
export function planText(plan: SyncPlanView, sessionId: string, excluded: string[]): string {
  const counts = [`${plural(countChanges(plan), 'change')} to ${plan.projectPath}`]
  if (excluded.length > 0) counts.push(`${plural(excluded.length, 'file')} left out (rejected)`)
  if (plan.conflicts > 0) counts.push(plural(plan.conflicts, 'conflict'))
  if (plan.risky > 0) counts.push(`${plan.risky} risky`)
  const lines = [counts.join(' · ')]
  const risky = plan.items.filter((item) => item.risks.length > 0 && writing.has(item.action))
  if (risky.length > 0) {
    lines.push('Risky, look before applying:')
    for (const item of risky) {
      const why = item.risks.map((r) => `[${riskWord(r)}] ${item.riskReasons?.[r] ?? r}`).join('; ')
      lines.push(`  ${item.path}: ${why}`)
    }
  }
  if (plan.conflicts > 0) {
    lines.push(
      'Conflicts: the project changed those files too, so they stay untouched. Resolve them ' +
        `with safe-coder sync ${sessionId} --force PATH (the session's version) or --merge.`,
    )
  }
  lines.push('', plan.text)
  return lines.join('\n')
}
