/**
 * A small glob matcher for workspace-relative paths ("/"-separated):
 * `**` (any number of whole segments), `*` and `?` (within one segment), `[abc]`, `[a-z]`,
 * `[!x]` / `[^x]`, `{a,b}` (nestable) and `\` to escape. Dotfiles are matched like any other
 * name. Anything unbalanced is taken literally.
 */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${translate(glob)}$`)
}

export function matchGlob(glob: string, path: string): boolean {
  return globToRegExp(glob).test(path)
}

const SPECIAL = /[.+^$|()[\]{}\\/*?]/g

function escapeLiteral(text: string): string {
  return text.replace(SPECIAL, '\\$&')
}

function translate(glob: string): string {
  let out = ''
  let i = 0
  while (i < glob.length) {
    const c = glob.charAt(i)
    if (c === '\\' && i + 1 < glob.length) {
      out += escapeLiteral(glob.charAt(i + 1))
      i += 2
    } else if (c === '*') {
      let end = i
      while (glob.charAt(end) === '*') end++
      const wholeSegment =
        end - i >= 2 && (i === 0 || glob.charAt(i - 1) === '/') && /^(\/|$)/.test(glob.slice(end))
      if (!wholeSegment) {
        out += '[^/]*'
      } else if (end === glob.length) {
        out += '.*'
      } else {
        out += '(?:[^/]*/)*'
        end++ // the "/" after "**" is part of the repeated group
      }
      i = end
    } else if (c === '?') {
      out += '[^/]'
      i++
    } else if (c === '[') {
      const cls = charClass(glob, i)
      out += cls?.regex ?? '\\['
      i = cls?.end ?? i + 1
    } else if (c === '{') {
      const alternatives = braces(glob, i)
      out +=
        alternatives === undefined ? '\\{' : `(?:${alternatives.parts.map(translate).join('|')})`
      i = alternatives?.end ?? i + 1
    } else {
      out += escapeLiteral(c)
      i++
    }
  }
  return out
}

/** `[...]` starting at `start`: its regex (never matching "/") and the index after it. */
function charClass(glob: string, start: number): { regex: string; end: number } | undefined {
  let i = start + 1
  const negated = glob.charAt(i) === '!' || glob.charAt(i) === '^'
  if (negated) i++
  let body = ''
  let first = true
  while (i < glob.length) {
    const c = glob.charAt(i)
    if (c === ']' && !first) {
      return { regex: negated ? `[^/${body}]` : `[${body}]`, end: i + 1 }
    }
    if (c === '\\' && i + 1 < glob.length) {
      body += `\\${glob.charAt(i + 1)}`
      i += 2
    } else {
      body += c === '-' ? '-' : c.replace(/[\\\]^[]/, '\\$&')
      i++
    }
    first = false
  }
  return undefined
}

/** `{a,b}` starting at `start`: its top-level alternatives and the index after it. */
function braces(glob: string, start: number): { parts: string[]; end: number } | undefined {
  const parts: string[] = []
  let depth = 0
  let from = start + 1
  for (let i = start + 1; i < glob.length; i++) {
    const c = glob.charAt(i)
    if (c === '\\') {
      i++
    } else if (c === '{') {
      depth++
    } else if (c === '}' && depth > 0) {
      depth--
    } else if (c === ',' && depth === 0) {
      parts.push(glob.slice(from, i))
      from = i + 1
    } else if (c === '}') {
      parts.push(glob.slice(from, i))
      return { parts, end: i + 1 }
    }
  }
  return undefined
}
