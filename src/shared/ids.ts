import { randomBytes } from 'node:crypto'

/** Sortable, unique, filesystem- and label-safe ids: `<prefix>-<time base36>-<random hex>`. */
export function createId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`
}
