import type { FileDiffView } from '../../session/client.js'
import type { DiffLayout } from './diff-render.js'

/**
 * What the review shows, without blessed: the files of one commit (or of the whole session),
 * which one is selected, which are rejected (left out of sync), where the diff is scrolled.
 */
export interface ReviewModel {
  sessionId: string
  /** Undefined: the whole session (copy-in → HEAD). */
  commit: string | undefined
  files: FileDiffView[]
  loading: boolean
  selected: number
  /** Paths left out of sync; shared by every review of the session. */
  rejected: Set<string>
  /** Paths reverted from this commit while it was open (its diff itself never changes). */
  reverted: Set<string>
  layout: DiffLayout
  /** First diff row on screen. */
  scroll: number
  /** The hunk n/p move from. */
  hunk: number
}

export function createReviewModel(
  sessionId: string,
  commit: string | undefined,
  rejected: Set<string>,
  layout: DiffLayout,
): ReviewModel {
  return {
    sessionId,
    commit,
    files: [],
    loading: true,
    selected: 0,
    rejected,
    reverted: new Set(),
    layout,
    scroll: 0,
    hunk: 0,
  }
}

export function selectedFile(model: ReviewModel): FileDiffView | undefined {
  return model.files[model.selected]
}

/** New files (after a load or a refresh), keeping the selection on the same path if it is there. */
export function setFiles(model: ReviewModel, files: FileDiffView[]): void {
  const path = selectedFile(model)?.path
  const index = files.findIndex((f) => f.path === path)
  model.files = files
  model.loading = false
  if (index >= 0 && index === model.selected) return
  selectFile(model, Math.max(0, index))
}

export function selectFile(model: ReviewModel, index: number): void {
  model.selected = Math.min(Math.max(index, 0), Math.max(0, model.files.length - 1))
  model.scroll = 0
  model.hunk = 0
}

/** Scrolls the diff by rows; the current hunk becomes the last one starting above the view. */
export function scrollDiff(
  model: ReviewModel,
  to: number,
  total: number,
  height: number,
  hunkStarts: readonly number[],
): void {
  model.scroll = clampScroll(to, total, height)
  let hunk = 0
  hunkStarts.forEach((row, i) => {
    if (row <= model.scroll) hunk = i
  })
  model.hunk = hunk
}

/**
 * Moves to the next or previous hunk and scrolls its header to the top. Past the last hunk of a
 * file it goes on to the next file (and before the first, to the previous file's last hunk), so
 * n/p alone walk the whole change. Returns false when there is nowhere to go.
 */
export function moveHunk(
  model: ReviewModel,
  dir: 1 | -1,
  starts: readonly number[],
  total: number,
  height: number,
  startsOf: (file: FileDiffView) => { starts: readonly number[]; total: number },
): boolean {
  const next = model.hunk + dir
  if (next >= 0 && next < starts.length) {
    model.hunk = next
    model.scroll = clampScroll(starts[next] ?? 0, total, height)
    return true
  }
  const index = model.selected + dir
  const file = model.files[index]
  if (file === undefined) return false
  selectFile(model, index)
  if (dir < 0) {
    const other = startsOf(file)
    model.hunk = Math.max(0, other.starts.length - 1)
    model.scroll = clampScroll(other.starts[model.hunk] ?? 0, other.total, height)
  }
  return true
}

export function clampScroll(to: number, total: number, height: number): number {
  return Math.max(0, Math.min(to, total - height))
}

/** Rejects the selected file (or accepts it again); returns its new state. */
export function toggleRejected(model: ReviewModel): boolean | undefined {
  const file = selectedFile(model)
  if (file === undefined) return undefined
  if (model.rejected.delete(file.path)) return false
  model.rejected.add(file.path)
  return true
}
