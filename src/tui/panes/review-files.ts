import { ui } from '../blessed.js'
import type { FileDiffView } from '../../session/client.js'
import { sanitizeLine } from '../state/sanitize.js'
import type { Theme } from '../theme.js'
import { clipStart, displayWidth, fit } from './text-fit.js'

// The sync engine's flag names, shortened to the words the review shows in brackets.
const riskWords: Record<string, string> = {
  'git-config': 'git',
  'git-repository': 'repo',
  'ci-workflow': 'ci',
  'package-scripts': 'script',
  'build-hooks': 'hook',
  makefile: 'make',
  'shell-rc': 'shell',
  'git-hooks': 'githook',
  'package-manager': 'pkg',
  toolchain: 'tool',
  'editor-config': 'editor',
  executable: 'exec',
  symlink: 'symlink',
  binary: 'binary',
  'too-large': 'large',
  'safecoder-config': 'config',
}

export function riskWord(flag: string): string {
  return riskWords[flag] ?? flag
}

export function statusLetter(status: string): string {
  const letters: Record<string, string> = {
    added: 'A',
    modified: 'M',
    deleted: 'D',
    typechange: 'T',
  }
  return letters[status] ?? (status.charAt(0).toUpperCase() || '?')
}

export interface FileRowOptions {
  theme: Theme
  width: number
  selected: boolean
  rejected: boolean
  reverted: boolean
}

/** `▸M …/src/a.ts +3 -1 [rejected] [hook]`: the path gives way so the words stay visible. */
export function fileRow(file: FileDiffView, options: FileRowOptions): string {
  const { theme } = options
  const words = [
    ...(options.rejected ? ['rejected'] : []),
    ...(options.reverted ? ['reverted'] : []),
    ...file.risks.map(riskWord),
  ].map((w) => `[${w}]`)
  const counts = file.binary ? 'bin' : `+${file.added} -${file.removed}`
  const tail = [counts, ...words].join(' ')
  const pathWidth = Math.max(8, options.width - 4 - displayWidth(tail))
  const path = fit(clipStart(sanitizeLine(file.path), pathWidth), pathWidth)
  const head = `${options.selected ? '▸' : ' '}${statusLetter(file.status)} `
  const colouredCounts = file.binary
    ? theme.tag(theme.dim, counts)
    : `${theme.tag(theme.added, `+${file.added}`)} ${theme.tag(theme.removed, `-${file.removed}`)}`
  const colouredWords = words.map((w) =>
    theme.tag(w === '[rejected]' || w === '[reverted]' ? theme.dim : theme.warn, w),
  )
  let row = [head + ui.escape(path), colouredCounts, ...colouredWords].join(' ')
  if (options.rejected) row = theme.tag(theme.dim, row)
  if (!options.selected) return row
  return theme.color
    ? `{${theme.selectedBg}-bg}${row}{/${theme.selectedBg}-bg}`
    : `{inverse}${row}{/inverse}`
}
