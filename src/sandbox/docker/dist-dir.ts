import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** dist/ of this package, whether this file runs from src/ (tests) or dist/ (installed). */
export function defaultDistDir(): string {
  return path.join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist')
}
