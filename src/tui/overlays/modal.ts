import { ui, type Screen, type Textbox } from '../blessed.js'
import { centerRect, type Rect } from '../layout.js'
import { displayWidth } from '../panes/text-fit.js'
import { wrapText } from '../panes/wrap-text.js'
import type { Theme } from '../theme.js'

/** One answer of a `choose` question: the key that picks it and what it says. */
export interface Choice<T extends string> {
  key: string
  label: string
  value: T
}

/**
 * Modal questions, one at a time (later ones wait their turn). While one is open it takes
 * every key; Escape answers "no" / nothing.
 */
export interface Modal {
  readonly isOpen: boolean
  choose<T extends string>(question: string, choices: readonly Choice<T>[]): Promise<T | undefined>
  confirm(question: string): Promise<boolean>
  ask(question: string, initial?: string): Promise<string | undefined>
  /** A key while open (`ask` reads its own keys through the textbox). */
  handleKey(key: string): void
  layout(body: Rect): void
  dispose(): void
}

export interface ModalOptions {
  screen: Screen
  theme: Theme
  invalidate: () => void
}

/** A question on screen: its text, the keys line, and how it ends. */
interface Question {
  text: string
  /** Plain and tagged forms of the last line (the answers). */
  footer: { plain: string; tagged: string }
  /** `ask`: the textbox starts with this text. */
  initial?: string
  /** Called with a key while shown; `choose` answers through it. */
  onKey?: (key: string) => void
  /** `ask`: called once the textbox has the text (undefined on Escape). */
  onLine?: (value: string | undefined) => void
}

const maxWidth = 72

export function createModal(options: ModalOptions): Modal {
  const { screen, theme } = options
  const box = ui.box({
    parent: screen,
    hidden: true,
    border: 'line',
    tags: true,
    wrap: false,
    label: ' Safe Coder ',
    padding: { left: 1, right: 1 },
    style: theme.color ? { border: { fg: theme.borderFocus } } : {},
  })
  const input: Textbox = ui.textbox({ parent: box, left: 0, right: 0, height: 1, hidden: true })
  const queue: Question[] = []
  let shown: Question | undefined
  let body: Rect = { left: 0, top: 0, width: 80, height: 23 }

  function draw(q: Question): void {
    const longest = Math.max(...q.text.split('\n').map(displayWidth), displayWidth(q.footer.plain))
    const width = Math.min(maxWidth, body.width, Math.max(36, longest + 4))
    const rows = wrapText(q.text, Math.max(1, width - 4)).map((row) => ui.escape(row))
    const lines = [...rows, '', ...(q.onLine === undefined ? [] : ['', '']), q.footer.tagged]
    box.setContent(lines.join('\n'))
    ui.place(box, centerRect(body, width, lines.length + 2))
    input.top = rows.length + 1
  }

  function next(): void {
    shown = queue.shift()
    if (shown === undefined) {
      box.hide()
      options.invalidate()
      return
    }
    const q = shown
    draw(q)
    box.show()
    box.setFront()
    // Taking the focus ends any typing elsewhere (the chat's input), so keys come here.
    box.focus()
    if (q.onLine !== undefined) {
      ui.setText(input, q.initial ?? '')
      input.show()
      ui.readLine(input, (value) => {
        input.hide()
        // Tab is not a key blessed's textbox knows; it would land in the text.
        q.onLine?.(value?.replace(/\t/g, ''))
        next()
      })
    }
    options.invalidate()
  }

  function enqueue(q: Question): void {
    queue.push(q)
    if (shown === undefined) next()
  }

  function choose<T extends string>(
    question: string,
    choices: readonly Choice<T>[],
  ): Promise<T | undefined> {
    const answers = choices.map((c) => [`[${c.key}]`, c.label] as const)
    const plain = [...answers.map(([k, l]) => `${k} ${l}`), 'Esc cancels'].join('   ')
    const tagged = [
      ...answers.map(([k, l]) => `${theme.tag(theme.accent, k)} ${l}`),
      theme.tag(theme.dim, 'Esc cancels'),
    ].join('   ')
    return new Promise((resolve) => {
      enqueue({
        text: question,
        footer: { plain, tagged },
        onKey(key) {
          const picked = key === 'escape' ? null : choices.find((c) => c.key === key)
          if (picked === undefined) return
          resolve(picked?.value)
          next()
        },
      })
    })
  }

  return {
    get isOpen() {
      return shown !== undefined
    },
    choose,
    async confirm(question) {
      const answer = await choose(question, [
        { key: 'y', label: 'yes', value: 'yes' },
        { key: 'n', label: 'no', value: 'no' },
      ])
      return answer === 'yes'
    },
    ask: (question, initial = '') =>
      new Promise((resolve) => {
        const hint = 'Enter accepts · Esc cancels'
        enqueue({
          text: question,
          footer: { plain: hint, tagged: theme.tag(theme.dim, hint) },
          initial,
          onLine: resolve,
        })
      }),
    handleKey(key) {
      shown?.onKey?.(key)
    },
    layout(rect) {
      body = rect
      if (shown !== undefined) draw(shown)
    },
    dispose() {
      queue.length = 0
      if (shown?.onLine !== undefined) ui.stopReading(input)
      shown = undefined
      box.destroy()
    },
  }
}
