import { CorruptObjectError } from './object-read-error.js'

/** One entry of a tree object as stored: the mode as written (`40000` as `040000`) and name. */
export interface StoredTreeEntry {
  mode: string
  name: string
  oid: string
}

/** The commit headers the read side uses, parsed the way git and isomorphic-git read them. */
export interface ParsedCommit {
  tree: string
  parents: string[]
  message: string
  committerTime: number
}

const knownModes = new Set(['040000', '100644', '100755', '120000', '160000'])
const hfsIgnorable = /[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g
const surrogate = /[\uD800-\uDFFF]/
const maybeRefused = /^[. ]|[\\/:~\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/
const identity = /^(.*) <(.*)> (.*) (.*)$/

// Same refusals and order as isomorphic-git's reader, so a tree reads the same either way.
export function parseTree(content: Uint8Array): StoredTreeEntry[] {
  const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  const entries: StoredTreeEntry[] = []
  let at = 0
  while (at < bytes.byteLength) {
    const space = bytes.indexOf(32, at)
    const nul = bytes.indexOf(0, at)
    if (space === -1 || nul === -1 || nul < space || nul + 21 > bytes.byteLength) {
      throw new CorruptObjectError(`tree entry at byte ${at} is malformed`)
    }
    let mode = bytes.toString('latin1', at, space)
    if (mode === '40000') mode = '040000'
    if (!knownModes.has(mode)) throw new CorruptObjectError(`unexpected tree entry mode ${mode}`)
    const name = bytes.toString('utf8', space + 1, nul)
    if (isRefusedName(name)) {
      throw new CorruptObjectError(`tree entry name ${JSON.stringify(name)} is not allowed`)
    }
    entries.push({ mode, name, oid: bytes.toString('hex', nul + 1, nul + 21) })
    at = nul + 21
  }
  return entries.sort((a, b) => compareCodePoints(a.name, b.name))
}

// git's verify_path: separators, `.`/`..` and `.git` in any spelling NTFS or HFS+ would accept.
function isRefusedName(name: string): boolean {
  // Without these characters and a leading dot or space, no spelling of `.git` or `..` remains.
  if (!maybeRefused.test(name)) return false
  const stream = name.replace(hfsIgnorable, '').split(':')[0] ?? ''
  const normalised = stripTrailingDotsAndSpaces(stream.toLowerCase())
  return (
    name.includes('\\') ||
    name.includes('/') ||
    (normalised === '' && stream !== '') ||
    normalised === '.git' ||
    /^\.?git~[1-9]$/.test(normalised)
  )
}

// A backward scan: `/[. ]+$/` is quadratic on a long run of dots, and names have no length cap.
function stripTrailingDotsAndSpaces(name: string): string {
  let end = name.length
  while (end > 0 && (name[end - 1] === '.' || name[end - 1] === ' ')) end--
  return name.slice(0, end)
}

/** Orders names by Unicode code point (UTF-8 byte order), not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  if (!surrogate.test(a) && !surrogate.test(b)) return a < b ? -1 : a > b ? 1 : 0
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

// `tree` first, then the run of `parent` lines; later duplicates of a header are ignored.
export function parseCommit(content: Uint8Array): ParsedCommit {
  const text = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8')
  const split = text.indexOf('\n\n')
  const lines: string[] = []
  for (const line of text.slice(0, split).split('\n')) {
    const last = lines.length - 1
    if (line.startsWith(' ') && last >= 0) lines[last] = `${lines[last] ?? ''}\n${line.slice(1)}`
    else lines.push(line)
  }
  const key = (line: string) => line.slice(0, line.indexOf(' '))
  const value = (line: string) => line.slice(line.indexOf(' ') + 1)
  const [first = '', ...rest] = lines
  if (key(first) !== 'tree') throw new CorruptObjectError('commit does not start with a tree')
  const parents: string[] = []
  while (rest[0] !== undefined && key(rest[0]) === 'parent') parents.push(value(rest.shift() ?? ''))
  const headers = new Map<string, string>()
  for (const line of rest) if (!headers.has(key(line))) headers.set(key(line), value(line))
  const author = headers.get('author')
  if (author !== undefined) identityTime(author, 'author')
  const committer = headers.get('committer')
  if (committer === undefined) throw new CorruptObjectError('commit has no committer')
  return {
    tree: value(first),
    parents,
    message: normaliseNewlines(text.slice(split + 2)),
    committerTime: identityTime(committer, 'committer'),
  }
}

function identityTime(line: string, what: string): number {
  const match = identity.exec(line)
  if (match === null || !/(\+|-)(\d\d)(\d\d)/.test(match[4] ?? '')) {
    throw new CorruptObjectError(`commit ${what} line is malformed`)
  }
  return Number(match[3])
}

function normaliseNewlines(text: string): string {
  return `${text.replace(/\r/g, '').replace(/^\n+/, '').replace(/\n+$/, '')}\n`
}

/** The object an annotated tag points at. */
export function parseTagTarget(content: Uint8Array): string {
  const text = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8')
  const match = /^object ([0-9a-f]{40})\n/.exec(text)
  if (match?.[1] === undefined) throw new CorruptObjectError('tag names no object')
  return match[1]
}
