import { createProgressMeter } from '../workspace/progress.js'
import { isTerminal } from './context.js'

/** One status line that rewrites itself in place on a terminal. */
export interface ProgressLine {
  /** `done` of `total` items are handled; drawn at most every 100 ms. */
  update(done: number, total: number): void
  /** Shows a fixed text until the next update (e.g. what runs before counting starts). */
  show(text: string): void
  /** Erases the line, so what is printed next starts on a clean one. */
  clear(): void
}

const count = new Intl.NumberFormat('en-US')

// Long file operations show where they are on a terminal; a pipe or a log gets nothing extra.
export function createProgressLine(
  stream: NodeJS.WritableStream,
  label: (done: string, total: string) => string,
): ProgressLine {
  if (!isTerminal(stream))
    return { update: () => undefined, show: () => undefined, clear: () => undefined }
  let shown = false
  let total = 0
  const draw = (text: string): void => {
    stream.write(`\r${text}\x1b[K`)
    shown = true
  }
  const meter = createProgressMeter((progress) => {
    draw(label(count.format(progress.files), count.format(progress.total)))
  })
  return {
    update(done, of) {
      if (of !== total) {
        meter.found(of - total)
        total = of
      }
      meter.handled(0)
      if (done === of) meter.flush()
    },
    show: draw,
    clear() {
      if (shown) stream.write('\r\x1b[K')
      shown = false
    },
  }
}
