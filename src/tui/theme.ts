/**
 * The dashboard's palette: a readable dark default, and a monochrome one under NO_COLOR (meaning
 * then comes from text and position, never from colour alone). Values are blessed colour names
 * or tags; `tag()` wraps text in a foreground colour tag, or returns it unchanged without colour.
 */
export interface Theme {
  color: boolean
  border: string
  borderFocus: string
  title: string
  dim: string
  accent: string
  ok: string
  warn: string
  error: string
  added: string
  removed: string
  stderr: string
  selectedBg: string
  tag(color: string, text: string): string
}

export function createTheme(env: Record<string, string | undefined>): Theme {
  const color = env.NO_COLOR === undefined || env.NO_COLOR === ''
  const base = {
    border: 'gray',
    borderFocus: 'cyan',
    title: 'white',
    dim: 'gray',
    accent: 'cyan',
    ok: 'green',
    warn: 'yellow',
    error: 'red',
    added: 'green',
    removed: 'red',
    stderr: 'red',
    selectedBg: 'blue',
  }
  return {
    color,
    ...base,
    tag: (c, text) => (color ? `{${c}-fg}${text}{/${c}-fg}` : text),
  }
}
