/**
 * The only module that imports blessed (pinned 0.1.81). Everything else in the dashboard uses
 * these names, so a later switch to a fork stays a change of this file.
 */
import blessed from 'blessed'
import type { Widgets } from 'blessed'

export type Screen = Widgets.Screen
export type Element = Widgets.BlessedElement
export type Box = Widgets.BoxElement
export type Textbox = Widgets.TextboxElement
export type KeyEvent = Widgets.Events.IKeyEventArg

/** Screen options with correctly typed streams (@types/blessed types `output` as a Readable). */
export type ScreenOptions = Omit<Widgets.IScreenOptions, 'input' | 'output'> & {
  input?: NodeJS.ReadableStream
  output?: NodeJS.WritableStream
}

export const ui = {
  screen: (options: ScreenOptions): Screen =>
    blessed.screen(options as unknown as Widgets.IScreenOptions),
  box: (options: Widgets.BoxOptions): Box => blessed.box(options),
  textbox: (options: Widgets.TextboxOptions): Textbox => blessed.textbox(options),
  /** Escapes `{` and `}` so text from the sandbox or the model is never read as markup. */
  escape: (text: string): string => blessed.escape(text),
  /** Moves and sizes an element (through blessed's setters, which clear the old area). */
  place(el: Element, rect: { left: number; top: number; width: number; height: number }): void {
    el.left = rect.left
    el.top = rect.top
    el.width = rect.width
    el.height = rect.height
  },
  /**
   * Routes every `screen.render()` — ours and blessed's own (a textbox on each keystroke, the
   * screen on resize) — to `request`, so the render loop paints at most once per frame.
   * Returns the real paint.
   */
  coalesceRenders(screen: Screen, request: () => void): () => void {
    const paint = screen.render.bind(screen)
    screen.render = request
    return paint
  },
  /**
   * Reads one line in a textbox; `done` gets the text on Enter, undefined on Escape or when the
   * textbox loses focus. While it reads, the screen's own key events stop except for the keys
   * in `screen.ignoreLocked`.
   */
  readLine(textbox: Textbox, done: (value: string | undefined) => void): void {
    textbox.readInput((_error: unknown, value?: string | null) => {
      done(typeof value === 'string' ? value : undefined)
    })
  },
  /** A box's border colour; undefined draws it in the terminal's default colour (NO_COLOR). */
  setBorderColor(box: Box, color: string | undefined): void {
    ;(box.style as { border?: { fg?: string } }).border = color === undefined ? {} : { fg: color }
  },
  /** Keys the screen still reports while a textbox reads (blessed's `ignoreLocked`). */
  passKeys(screen: Screen): readonly string[] {
    return (screen as unknown as { ignoreLocked: string[] }).ignoreLocked
  },
  setPassKeys(screen: Screen, keys: readonly string[]): void {
    ;(screen as unknown as { ignoreLocked: string[] }).ignoreLocked = [...keys]
  },
  /**
   * Sets a textbox's text. blessed's own `setValue` compares with the last *drawn* value, so
   * with renders coalesced it could skip a change typed since; this sets the value first.
   */
  setText(textbox: Textbox, text: string): void {
    textbox.value = text
    textbox.setValue(text)
  },
  /** Ends a `readLine` at once, as if the textbox lost focus (`done` gets undefined). */
  stopReading(textbox: Textbox): void {
    textbox.emit('blur')
  },
  /**
   * Lets the app mark a box's title (the focused pane) while the pane keeps setting its own
   * label: every `setLabel` goes through `mark`; the returned function re-applies it.
   */
  markLabel(box: Box, mark: (label: string) => string): () => void {
    const setLabel = box.setLabel.bind(box)
    const initial: unknown = (box.options as { label?: unknown }).label
    let label = typeof initial === 'string' ? initial : ''
    box.setLabel = (next: string | Widgets.LabelOptions) => {
      label = typeof next === 'string' ? next : next.text
      setLabel(mark(label))
    }
    return () => {
      setLabel(mark(label))
    }
  },
  /** Turns mouse reporting on (clicks and the wheel reach `clickable` elements) or off. */
  setMouse(screen: Screen, on: boolean, clickable: readonly Element[]): void {
    if (!on) {
      screen.program.disableMouse()
      return
    }
    for (const el of clickable) screen.enableMouse(el)
    screen.program.enableMouse()
  },
}
