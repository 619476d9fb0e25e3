import type { FileDiffView } from '../../session/client.js'
import type { Action } from '../keymap.js'
import {
  describeError,
  guarded,
  revertSelected,
  syncReviewed,
  undoLastSync,
  type ReviewDeps,
  rejectHunk,
} from './review-actions.js'
import {
  createReviewModel,
  moveHunk,
  scrollDiff,
  selectFile,
  selectedFile,
  setFiles,
  toggleRejected,
  type ReviewModel,
} from './review-model.js'
import { createReviewView, SPLIT_MIN_COLUMNS } from './review-view.js'
import type { Pane, PaneContext } from './types.js'

export interface ReviewPane extends Pane {
  /** Shows the review of a whole session, or of one commit, and loads its diff. */
  open(sessionId: string, commit?: string): Promise<void>
  readonly visible: boolean
}

/**
 * The full-screen review: files on the left (status, path, +/-, risk words), the selected
 * file's diff on the right; walk files and hunks, reject files from sync, revert, sync, undo.
 * Hidden until `open`; like the log, the diff box holds only the rows on screen.
 */
export function createReviewPane(ctx: PaneContext): ReviewPane {
  const view = createReviewView(ctx)
  const { box } = view
  const rejectedBySession = new Map<string, Set<string>>()
  let preferred: ReviewModel['layout'] = 'unified'
  let model: ReviewModel | undefined
  let failure: string | undefined
  let isVisible = false
  let busy = false

  function draw(): void {
    if (isVisible && model !== undefined) view.draw(model, { failure, busy })
  }

  function redraw(): void {
    draw()
    ctx.invalidate()
  }

  async function refresh(m: ReviewModel): Promise<void> {
    const files = await ctx.client.diff(m.sessionId, m.commit)
    if (model === m) setFiles(m, files)
  }

  const deps: ReviewDeps = {
    client: ctx.client,
    confirm: (q) => ctx.confirm(q),
    notify: (level, text) => {
      ctx.notify(level, text)
    },
    showPlan(text) {
      view.showPlan(text)
      redraw()
      return () => {
        view.hidePlan()
        redraw()
      }
    },
  }

  // One action at a time: a second `s` while a sync is asking would plan twice.
  function run(m: ReviewModel, action: (d: ReviewDeps, m: ReviewModel) => Promise<boolean>): void {
    if (busy) {
      ctx.notify('info', 'still busy with the last action')
      return
    }
    busy = true
    void (async () => {
      try {
        if (await guarded(deps, () => action(deps, m))) {
          await guarded(deps, async () => {
            await refresh(m)
            return true
          })
        }
      } finally {
        busy = false
        redraw()
      }
    })()
  }

  function scroll(m: ReviewModel, to: number): void {
    const file = selectedFile(m)
    if (file === undefined) return
    const lines = view.linesOf(file, view.layoutOf(m))
    scrollDiff(m, to, lines.rows.length, view.bodyHeight(), lines.hunkStarts)
  }

  function hunk(m: ReviewModel, dir: 1 | -1): void {
    const file = selectedFile(m)
    if (file === undefined) return
    const lines = view.linesOf(file, view.layoutOf(m))
    const startsOf = (f: FileDiffView): { starts: readonly number[]; total: number } => {
      const other = view.linesOf(f, view.layoutOf(m))
      return { starts: other.hunkStarts, total: other.rows.length }
    }
    const moved = moveHunk(m, dir, lines.hunkStarts, lines.rows.length, view.bodyHeight(), startsOf)
    if (!moved) ctx.notify('info', dir > 0 ? 'last hunk of the last file' : 'first hunk')
  }

  function toggleView(m: ReviewModel): void {
    if (m.layout === 'unified' && view.width() < SPLIT_MIN_COLUMNS) {
      ctx.notify('info', `side by side needs ${SPLIT_MIN_COLUMNS} columns; showing unified`)
      return
    }
    m.layout = m.layout === 'unified' ? 'split' : 'unified'
    preferred = m.layout
    // Rows differ between layouts: stay on the same hunk.
    const file = selectedFile(m)
    const hunkIndex = m.hunk
    if (file !== undefined)
      scroll(m, view.linesOf(file, view.layoutOf(m)).hunkStarts[hunkIndex] ?? 0)
    m.hunk = hunkIndex
  }

  function close(): void {
    isVisible = false
    model = undefined
    view.hidePlan()
    box.hide()
    ctx.invalidate()
  }

  function handle(action: Action): boolean {
    const m = model
    if (!isVisible || m === undefined) return false
    const page = Math.max(1, view.bodyHeight() - 1)
    switch (action) {
      case 'review.close':
        close()
        return true
      case 'review.next-file':
      case 'review.prev-file':
        selectFile(m, m.selected + (action === 'review.next-file' ? 1 : -1))
        break
      case 'review.next-hunk':
      case 'review.prev-hunk':
        hunk(m, action === 'review.next-hunk' ? 1 : -1)
        break
      case 'up':
      case 'down':
        scroll(m, m.scroll + (action === 'down' ? 1 : -1))
        break
      case 'page-up':
      case 'page-down':
        scroll(m, m.scroll + (action === 'page-down' ? page : -page))
        break
      case 'top':
      case 'bottom':
        scroll(m, action === 'top' ? 0 : Number.MAX_SAFE_INTEGER)
        break
      case 'review.toggle':
        toggleRejected(m)
        break
      case 'review.view':
        toggleView(m)
        break
      case 'review.revert':
        run(m, revertSelected)
        break
      case 'review.reject-hunk':
        run(m, rejectHunk)
        break
      case 'review.sync':
        run(m, syncReviewed)
        break
      case 'review.undo':
        run(m, undoLastSync)
        break
      default:
        return false
    }
    redraw()
    return true
  }

  async function open(sessionId: string, commit?: string): Promise<void> {
    const rejected = rejectedBySession.get(sessionId) ?? new Set<string>()
    rejectedBySession.set(sessionId, rejected)
    const m = createReviewModel(sessionId, commit, rejected, preferred)
    model = m
    failure = undefined
    isVisible = true
    box.show()
    box.setFront()
    redraw()
    try {
      const files = await ctx.client.diff(sessionId, commit)
      if (model === m) setFiles(m, files)
    } catch (error) {
      if (model !== m) return
      m.loading = false
      failure = `could not load the diff: ${describeError(error)}`
      ctx.notify('error', failure)
    }
    redraw()
  }

  return {
    id: 'review',
    box,
    render: draw,
    handle,
    open,
    get visible() {
      return isVisible
    },
    hints: [
      ['review.next-file', 'file'],
      ['review.next-hunk', 'hunk'],
      ['review.toggle', 'reject'],
      ['review.reject-hunk', 'reject hunk'],
      ['review.revert', 'revert'],
      ['review.sync', 'sync'],
      ['review.undo', 'undo sync'],
      ['review.view', 'view'],
      ['review.close', 'close'],
    ],
    dispose() {
      box.destroy()
    },
  }
}
