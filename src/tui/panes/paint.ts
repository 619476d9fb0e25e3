import type { Box } from '../blessed.js'

/**
 * Sets a box's content (and label) only when they changed: blessed re-parses tags and re-wraps
 * on every `setContent`, and panes are asked to render on every state change.
 */
export function createPainter(box: Box): (content: string, label?: string) => void {
  let lastContent: string | undefined
  let lastLabel: string | undefined
  return (content, label) => {
    if (content !== lastContent) box.setContent(content)
    if (label !== undefined && label !== lastLabel) box.setLabel(label)
    lastContent = content
    if (label !== undefined) lastLabel = label
  }
}
