import type { Element } from '../blessed.js'

/** The rows and columns inside a box's border and padding (0 before it has a size). */
export function innerSize(box: Element): { width: number; height: number } {
  const width = typeof box.width === 'number' ? box.width : 0
  const height = typeof box.height === 'number' ? box.height : 0
  const iwidth = typeof box.iwidth === 'number' ? box.iwidth : 0
  const iheight = typeof box.iheight === 'number' ? box.iheight : 0
  return { width: Math.max(0, width - iwidth), height: Math.max(0, height - iheight) }
}
