import { describe, expect, it } from 'vitest'
import { formatPlan, type SyncPlan } from '../../../src/workspace/sync.js'

const plan: SyncPlan = {
  projectDir: '/p',
  items: [
    {
      path: '.gitlab-ci.yml',
      action: 'create',
      reason: 'unchanged on the host since the copy',
      risky: ['git-config', 'ci-workflow'],
      riskReasons: { 'git-config': 'git reads it', 'ci-workflow': 'CI runs it on the next push' },
    },
    { path: 'a.txt', action: 'modify', reason: 'unchanged on the host since the copy', risky: [] },
  ],
  conflicts: 0,
  risky: 1,
}

describe('formatPlan', () => {
  it('says under each risky path why it is risky', () => {
    expect(formatPlan(plan, 'needs-yes').split('\n')).toEqual([
      'Sync plan for /p: 2 change(s), 0 conflict(s), 1 risky.',
      '  create    .gitlab-ci.yml [risky: git-config, ci-workflow]',
      '             git-config: git reads it',
      '             ci-workflow: CI runs it on the next push',
      '  modify    a.txt',
      'Risky changes need confirmation (--yes) before they are applied.',
    ])
  })

  it('does not ask for --yes when it was given, or when the caller asks its own question', () => {
    const given = formatPlan(plan, 'yes-given')
    expect(given).not.toMatch(/need confirmation/)
    expect(given.split('\n').at(-1)).toBe('Risky changes confirmed with --yes.')
    const asked = formatPlan(plan, 'asked')
    expect(asked).not.toMatch(/--yes/)
    expect(asked.split('\n').at(-1)).toBe('  modify    a.txt')
  })

  it('ends without a confirmation line when nothing is risky', () => {
    const safe = { ...plan, items: plan.items.slice(1), risky: 0 }
    expect(formatPlan(safe, 'needs-yes').split('\n')).toEqual([
      'Sync plan for /p: 1 change(s), 0 conflict(s), 0 risky.',
      '  modify    a.txt',
    ])
  })
})
