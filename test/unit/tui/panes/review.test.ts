import { describe, expect, it } from 'vitest'
import type { FileDiffView, HunkView } from '../../../../src/session/client.js'
import { createReviewPane } from '../../../../src/tui/panes/review.js'
import {
  createClient,
  createContext,
  openScreen,
  sessionView,
  settle,
  viewState,
} from './pane-fixtures.js'

const hunk = (oldStart: number, body: string[]): HunkView => ({
  header: `@@ -${oldStart},${body.length} +${oldStart},${body.length} @@`,
  lines: body.map((l) => ({
    kind: l.startsWith('+') ? 'add' : l.startsWith('-') ? 'remove' : 'context',
    text: l.slice(1),
  })),
})

const context = (from: number, n: number): string[] =>
  Array.from({ length: n }, (_, i) => ` context ${from + i}`)

const files: FileDiffView[] = [
  {
    path: 'src/a.ts',
    status: 'modified',
    binary: false,
    added: 2,
    removed: 1,
    risks: [],
    hunks: [
      hunk(1, [...context(1, 3), '-const old = 1', '+const fresh = 2', ...context(4, 30)]),
      hunk(90, [' // a comment', '+second hunk line', ' tail']),
      hunk(200, ['+third hunk line', ...context(201, 30)]),
    ],
  },
  {
    path: '.github/workflows/ci.yml',
    status: 'added',
    binary: false,
    added: 1,
    removed: 0,
    risks: ['ci-workflow'],
    hunks: [hunk(1, ['+on: push'])],
  },
  {
    path: 'setup.py',
    status: 'modified',
    binary: false,
    added: 1,
    removed: 0,
    risks: ['build-hooks', 'executable'],
    hunks: [hunk(1, ['+import os'])],
  },
  {
    path: 'logo.png',
    status: 'modified',
    binary: true,
    added: 0,
    removed: 0,
    risks: ['binary'],
    summary: 'binary file: 2 KiB → 3 KiB',
    hunks: [],
  },
]

function setup(options: { columns?: number; noColor?: boolean } = {}) {
  const columns = options.columns ?? 120
  const { term, screen } = openScreen(columns, 24)
  const session = sessionView('s1', {
    timeline: [
      { commit: 'c2'.repeat(20), callId: 'x', message: 'edit_file: src/a.ts', changed: [], at: 0 },
    ],
  })
  const state = viewState(session)
  const client = createClient()
  client.diffs.set('', files)
  client.diffs.set('c2'.repeat(20), files.slice(0, 2))
  const ctx = createContext(screen, () => state, { client, noColor: options.noColor === true })
  const pane = createReviewPane(ctx)
  const show = async (): Promise<string[]> => {
    pane.render(state)
    screen.render()
    return settle(term)
  }
  const text = async (): Promise<string> => (await show()).join('\n')
  return { term, screen, state, client, ctx, pane, show, text }
}

describe('the review overlay', () => {
  it('is hidden until opened and lists files with their risk words', async () => {
    const t = setup()
    expect(t.pane.visible).toBe(false)
    await t.pane.open('s1')
    expect(t.pane.visible).toBe(true)
    expect(t.client.callsOf('diff')).toEqual([['s1', undefined]])
    const screen = await t.text()
    expect(screen).toContain('review · whole session · /projects/s1')
    expect(screen).toMatch(/▸M src\/a\.ts\s+\+2 -1/)
    expect(screen).toMatch(/A \.github\/workflows\/ci\.yml\s+\+1 -0 \[ci\]/)
    expect(screen).toMatch(/M setup\.py\s+\+1 -0 \[hook\] \[exec\]/)
    expect(screen).toMatch(/M logo\.png\s+bin \[binary\]/)
    expect(screen).toContain('modified src/a.ts · +2 -1')
    t.pane.handle('review.close')
    expect(t.pane.visible).toBe(false)
  })

  it('walks files with J/K and hunks with n/p, scrolling the hunk into view', async () => {
    const t = setup()
    await t.pane.open('s1')
    let lines = await t.show()
    expect(lines.join('\n')).toContain('hunk 1/3')
    expect(lines.join('\n')).not.toContain('second hunk line')

    t.pane.handle('review.next-hunk')
    lines = await t.show()
    expect(lines.join('\n')).toContain('hunk 2/3')
    // The hunk's header becomes the first diff row, under the file header.
    expect(lines[3]).toContain('@@ -90,3 +90,3 @@')
    expect(lines[5]).toContain('+second hunk line')

    t.pane.handle('review.next-hunk')
    lines = await t.show()
    expect(lines.join('\n')).toContain('hunk 3/3')
    expect(lines[4]).toContain('+third hunk line')

    // Past the last hunk: on to the next file; back with p to the last hunk of the previous.
    t.pane.handle('review.next-hunk')
    expect(await t.text()).toContain('added .github/workflows/ci.yml')
    t.pane.handle('review.prev-hunk')
    lines = await t.show()
    expect(lines.join('\n')).toContain('modified src/a.ts')
    expect(lines.join('\n')).toContain('hunk 3/3')

    t.pane.handle('review.next-file')
    t.pane.handle('review.next-file')
    expect(await t.text()).toMatch(/▸M setup\.py/)
    t.pane.handle('review.prev-file')
    expect(await t.text()).toMatch(/▸A \.github/)
    t.pane.handle('review.next-file')
    t.pane.handle('review.next-file')
    expect(await t.text()).toContain('binary file: 2 KiB → 3 KiB')
  })

  it('rejects a file with space and syncs without it after showing the plan', async () => {
    const t = setup()
    t.client.plan = {
      projectPath: '/projects/s1',
      items: [
        { path: 'src/a.ts', action: 'modify', risks: [] },
        {
          path: 'setup.py',
          action: 'modify',
          risks: ['build-hooks'],
          riskReasons: { 'build-hooks': 'Python runs it on install and build' },
        },
        { path: 'x', action: 'conflict', risks: [], reason: 'host changed' },
      ],
      conflicts: 1,
      risky: 1,
      text: 'Sync plan for /projects/s1: 2 change(s), 1 conflict(s), 1 risky.',
    }
    await t.pane.open('s1')
    t.pane.handle('review.next-file')
    t.pane.handle('review.toggle')
    const screen = await t.text()
    expect(screen).toMatch(/▸A \S*ci\.yml\s+\+1 -0 \[rejected\] \[ci\]/)
    expect(screen).toContain('1 rejected (left out of sync)')

    let planShown = ''
    t.ctx.confirm = async (question) => {
      t.ctx.questions.push(question)
      planShown = await t.text()
      return true
    }
    t.pane.handle('review.sync')
    await expect.poll(() => t.client.callsOf('applySync').length).toBe(1)
    expect(t.client.callsOf('planSync')).toEqual([
      ['s1', { exclude: ['.github/workflows/ci.yml'] }],
    ])
    expect(t.ctx.questions).toEqual(['apply 2 changes to /projects/s1? (1 risky: see the plan)'])
    expect(planShown).toContain('sync plan')
    expect(planShown).toContain(
      '2 changes to /projects/s1 · 1 file left out (rejected) · 1 conflict',
    )
    expect(planShown).toContain('Conflicts: the project changed those files too')
    expect(planShown).toContain('setup.py: [hook] Python runs it on install and build')
    await expect.poll(() => t.ctx.notices.at(-1)?.text).toContain('applied 2 changes')
    // The plan closes with the question, and the diff is read again.
    expect(await t.text()).not.toContain('sync plan')
    await expect.poll(() => t.client.callsOf('diff').length).toBe(2)

    // Accepting it again: it goes back into the sync.
    t.pane.handle('review.toggle')
    expect(await t.text()).not.toContain('[rejected]')
  })

  it('reverts the selected file of a commit after asking, or nothing when refused', async () => {
    const t = setup()
    const commit = 'c2'.repeat(20)
    await t.pane.open('s1', commit)
    expect(await t.text()).toContain(`commit c2c2c2c edit_file: src/a.ts`)
    t.ctx.confirmAnswers.push(false)
    t.pane.handle('review.revert')
    await expect.poll(() => t.ctx.questions.length).toBe(1)
    expect(t.client.callsOf('revert')).toEqual([])

    t.pane.handle('review.next-file')
    t.pane.handle('review.revert')
    await expect.poll(() => t.client.callsOf('revert').length).toBe(1)
    expect(t.ctx.questions[1]).toBe(
      'revert .github/workflows/ci.yml as commit c2c2c2c changed it (a new commit)?',
    )
    expect(t.client.callsOf('revert')[0]).toEqual([
      's1',
      { commit, paths: ['.github/workflows/ci.yml'] },
    ])
    await expect.poll(() => t.client.callsOf('diff').length).toBe(2)
    expect(await t.text()).toContain('[reverted]')
  })

  it('reverts the whole commit when it changed no files', async () => {
    const t = setup()
    t.client.diffs.set('e'.repeat(40), [])
    await t.pane.open('s1', 'e'.repeat(40))
    expect(await t.text()).toContain('nothing to review: the commit changed nothing')
    t.pane.handle('review.revert')
    await expect.poll(() => t.client.callsOf('revert').length).toBe(1)
    expect(t.client.callsOf('revert')[0]).toEqual(['s1', { commit: 'e'.repeat(40) }])
  })

  it('reverts a file in the whole-session review through every commit that touched it', async () => {
    const t = setup()
    const file = (path: string) => ({ path, status: 'modified', added: 1, removed: 0 })
    t.client.commits = [
      { commit: 'c3', subject: 'bash: sed', at: 3, files: [file('src/a.ts')] },
      { commit: 'c2', subject: 'edit_file: b', at: 2, files: [file('b')] },
      { commit: 'c1', subject: 'edit_file: src/a.ts', at: 1, files: [file('src/a.ts')] },
      { commit: 'c0', subject: 'snapshot: /p', at: 0, files: [file('src/a.ts'), file('b')] },
    ]
    await t.pane.open('s1')
    t.pane.handle('review.revert')
    await expect.poll(() => t.client.callsOf('revert').length).toBe(2)
    expect(t.ctx.questions).toEqual([
      'put src/a.ts back as it was at copy-in? (reverts it in 2 commits, newest first)',
    ])
    expect(t.client.callsOf('revert')).toEqual([
      ['s1', { commit: 'c3', paths: ['src/a.ts'] }],
      ['s1', { commit: 'c1', paths: ['src/a.ts'] }],
    ])
    await expect.poll(() => t.ctx.notices.at(-1)?.text).toContain('back as it was at copy-in')
  })

  it('rejects the current hunk of a commit by reverting that hunk, after asking', async () => {
    const t = setup()
    const commit = 'c2'.repeat(20)
    await t.pane.open('s1', commit)
    t.pane.handle('review.reject-hunk')
    await expect.poll(() => t.client.callsOf('revert').length).toBe(1)
    expect(t.ctx.questions[0]).toMatch(
      /^reject hunk 1 of src\/a\.ts \(reverts it as a new commit\)\?$/,
    )
    expect(t.client.callsOf('revert')[0]).toEqual([
      's1',
      { commit, hunk: { path: 'src/a.ts', index: 0 } },
    ])
  })

  it('rejects a hunk in the whole-session review only when one commit changed the file', async () => {
    const t = setup()
    const file = (path: string) => ({ path, status: 'modified', added: 1, removed: 0 })
    t.client.commits = [
      { commit: 'c3', subject: 'bash: sed', at: 3, files: [file('src/a.ts')] },
      { commit: 'c1', subject: 'edit_file: src/a.ts', at: 1, files: [file('src/a.ts')] },
      { commit: 'c0', subject: 'snapshot: /p', at: 0, files: [file('src/a.ts')] },
    ]
    await t.pane.open('s1')
    t.pane.handle('review.reject-hunk')
    await expect.poll(() => t.ctx.notices.at(-1)?.text).toMatch(/changed in 2 commits/)
    expect(t.client.callsOf('revert')).toEqual([])
    t.client.commits = [t.client.commits[1], t.client.commits[2]].filter((c) => c !== undefined)
    t.pane.handle('review.reject-hunk')
    await expect.poll(() => t.client.callsOf('revert').length).toBe(1)
    expect(t.client.callsOf('revert')[0]).toEqual([
      's1',
      { commit: 'c1', hunk: { path: 'src/a.ts', index: 0 } },
    ])
  })

  it('undoes the last sync after asking', async () => {
    const t = setup()
    await t.pane.open('s1')
    t.pane.handle('review.undo')
    await expect.poll(() => t.client.callsOf('undoSync').length).toBe(1)
    expect(t.ctx.questions[0]).toMatch(/^undo the last sync\?/)
    await expect
      .poll(() => t.ctx.notices.at(-1)?.text)
      .toBe('sync undone: 2 files restored in the project')
  })

  it('reports a failed client call in the status bar', async () => {
    const t = setup()
    t.client.undoSync = () => Promise.reject(new Error('no sync to undo'))
    await t.pane.open('s1')
    t.pane.handle('review.undo')
    await expect
      .poll(() => t.ctx.notices.at(-1))
      .toEqual({
        level: 'error',
        text: 'no sync to undo',
      })
  })

  it('shows side by side at 160 columns, pairing removed and added lines', async () => {
    const t = setup({ columns: 160 })
    await t.pane.open('s1')
    t.pane.handle('review.view')
    const lines = await t.show()
    expect(lines.join('\n')).toContain('side by side · hunk 1/3')
    const changed = lines.find((l) => l.includes('-const old = 1'))
    expect(changed).toMatch(/4 -const old = 1\s+│\s*4 \+const fresh = 2/)
    const ctxRow = lines.find((l) => l.includes(' context 1'))
    expect(ctxRow).toMatch(/1 {2}context 1\s+│\s*1 {2}context 1/)
    t.pane.handle('review.view')
    expect(await t.text()).toContain('unified · hunk 1/3')
  })

  it('stays unified below 100 columns and says why', async () => {
    const t = setup({ columns: 80 })
    await t.pane.open('s1')
    t.pane.handle('review.view')
    expect(t.ctx.notices.at(-1)?.text).toBe('side by side needs 100 columns; showing unified')
    expect(await t.text()).toContain('unified · hunk 1/3')
  })

  it('keeps the +/- prefixes under NO_COLOR', async () => {
    const t = setup({ noColor: true })
    await t.pane.open('s1')
    const screen = await t.text()
    expect(screen).toMatch(/│ {2}4 {5}-const old = 1/)
    expect(screen).toMatch(/│ {6}4 \+const fresh = 2/)
    expect(screen).toContain('@@ -1,35 +1,35 @@')
  })
})
