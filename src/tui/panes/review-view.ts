import type { FileDiffView } from '../../session/client.js'
import { ui, type Box } from '../blessed.js'
import { sanitizeLine } from '../state/sanitize.js'
import type { TimelineEntry } from '../state/types.js'
import { innerSize } from './box-size.js'
import { formatDiffRow, layoutDiff, type DiffLayout, type DiffLines } from './diff-render.js'
import { createPainter } from './paint.js'
import { fileRow, riskWord } from './review-files.js'
import { selectedFile, type ReviewModel } from './review-model.js'
import type { PaneContext } from './types.js'

/** Side by side needs two readable columns of code. */
export const SPLIT_MIN_COLUMNS = 100

/** What the review draws besides the model. */
export interface ReviewStatus {
  /** Why the diff could not be loaded. */
  failure: string | undefined
  busy: boolean
}

/** The review's boxes: a header row, the file list, the diff, and the sync plan modal. */
export interface ReviewView {
  readonly box: Box
  draw(m: ReviewModel, status: ReviewStatus): void
  /** The layout shown: side by side only when wanted and wide enough. */
  layoutOf(m: ReviewModel): DiffLayout
  /** A file's rows in a layout, laid out once per file. */
  linesOf(file: FileDiffView, layout: DiffLayout): DiffLines
  /** Diff rows on screen (below the file's header row). */
  bodyHeight(): number
  width(): number
  showPlan(text: string): void
  hidePlan(): void
}

export function createReviewView(ctx: PaneContext): ReviewView {
  const { theme } = ctx
  const box = ui.box({ parent: ctx.screen, top: 0, left: 0, width: '100%', height: '100%-1' })
  box.hide()
  const header = ui.box({ parent: box, top: 0, left: 0, height: 1, tags: true, wrap: false })
  const framed = (label: string): Box =>
    ui.box({
      parent: box,
      top: 1,
      height: '100%-1',
      label,
      border: 'line',
      tags: true,
      wrap: false,
      style: { border: { fg: theme.border } },
    })
  const list = framed(' files ')
  const diff = framed(' diff ')
  // The upper half: the confirmation the app asks with sits in the middle of the screen.
  const plan = ui.box({
    parent: box,
    top: 1,
    left: 'center',
    width: '90%',
    height: '50%-4',
    label: ' sync plan ',
    border: 'line',
    tags: true,
    style: { border: { fg: theme.borderFocus } },
  })
  plan.hide()
  const paintHeader = createPainter(header)
  const paintList = createPainter(list)
  const paintDiff = createPainter(diff)
  const layouts = new WeakMap<FileDiffView, Partial<Record<DiffLayout, DiffLines>>>()
  let listTop = 0

  const width = (): number => innerSize(box).width
  const bodyHeight = (): number => Math.max(1, innerSize(diff).height - 1)
  const layoutOf = (m: ReviewModel): DiffLayout =>
    m.layout === 'split' && width() >= SPLIT_MIN_COLUMNS ? 'split' : 'unified'

  function linesOf(file: FileDiffView, layout: DiffLayout): DiffLines {
    const cached = layouts.get(file) ?? {}
    const lines = cached[layout] ?? layoutDiff(file, layout)
    layouts.set(file, { ...cached, [layout]: lines })
    return lines
  }

  function draw(m: ReviewModel, status: ReviewStatus): void {
    const total = width()
    const listWidth =
      total >= 60 ? Math.min(60, Math.max(24, Math.round(total * 0.35))) : total >> 1
    list.width = listWidth
    diff.left = listWidth
    diff.width = Math.max(1, total - listWidth)
    header.width = total
    const session = ctx.state().sessions[m.sessionId]
    paintHeader(headerText(m, session?.projectPath ?? m.sessionId, session?.timeline, status))
    paintList(listRows(m, status), ` files · ${m.files.length} `)
    drawDiff(m, status)
  }

  function headerText(
    m: ReviewModel,
    project: string,
    timeline: TimelineEntry[] | undefined,
    status: ReviewStatus,
  ): string {
    let what = 'whole session'
    if (m.commit !== undefined) {
      const entry = timeline?.find((e) => e.commit === m.commit)
      const subject = sanitizeLine(entry?.message.split('\n', 1)[0] ?? '')
      what = `commit ${m.commit.slice(0, 7)}${subject === '' ? '' : ` ${subject}`}`
    }
    const parts = [`review · ${what}`, project]
    if (m.rejected.size > 0) parts.push(`${m.rejected.size} rejected (left out of sync)`)
    if (status.busy) parts.push('working…')
    return `{bold}${ui.escape(` ${parts.join(' · ')}`)}{/bold}`
  }

  function listRows(m: ReviewModel, status: ReviewStatus): string {
    if (m.loading) return theme.tag(theme.dim, 'loading…')
    if (m.files.length === 0) return theme.tag(theme.dim, ui.escape(status.failure ?? 'no changes'))
    const { width: w, height } = innerSize(list)
    listTop = Math.min(Math.max(listTop, m.selected - height + 1), m.selected)
    return m.files
      .slice(listTop, listTop + Math.max(1, height))
      .map((file, i) =>
        fileRow(file, {
          theme,
          width: w,
          selected: listTop + i === m.selected,
          rejected: m.rejected.has(file.path),
          reverted: m.reverted.has(file.path),
        }),
      )
      .join('\n')
  }

  function drawDiff(m: ReviewModel, status: ReviewStatus): void {
    const file = selectedFile(m)
    if (file === undefined) {
      const why =
        m.commit === undefined ? 'the session changed nothing' : 'the commit changed nothing'
      const text = m.loading ? 'loading the diff…' : (status.failure ?? `nothing to review: ${why}`)
      paintDiff(theme.tag(theme.dim, ui.escape(text)), ' diff ')
      return
    }
    const layout = layoutOf(m)
    const lines = linesOf(file, layout)
    const narrow = layout !== m.layout ? ' (too narrow for side by side)' : ''
    const hunks = lines.hunkStarts.length
    const where = hunks > 0 ? ` · hunk ${m.hunk + 1}/${hunks}` : ''
    const label = ` ${layout === 'split' ? 'side by side' : 'unified'}${narrow}${where} `
    const { width: w } = innerSize(diff)
    const rows = lines.rows
      .slice(m.scroll, m.scroll + bodyHeight())
      .map((row) => formatDiffRow(row, { theme, width: w, digits: lines.digits }))
    paintDiff([fileHeader(m, file), ...rows].join('\n'), label)
  }

  function fileHeader(m: ReviewModel, file: FileDiffView): string {
    const words = file.risks.map((r) => `[${riskWord(r)}]`).join(' ')
    const parts = [`${file.status} ${sanitizeLine(file.path)}`, `+${file.added} -${file.removed}`]
    if (words !== '') parts.push(words)
    if (m.rejected.has(file.path)) parts.push('[rejected] left out of sync')
    if (m.reverted.has(file.path)) parts.push('[reverted]')
    return `{bold}${ui.escape(parts.join(' · '))}{/bold}`
  }

  return {
    box,
    draw,
    layoutOf,
    linesOf,
    bodyHeight,
    width,
    showPlan(text) {
      plan.setContent(ui.escape(text))
      plan.show()
      plan.setFront()
    },
    hidePlan() {
      plan.hide()
    },
  }
}
