import path from 'node:path/posix'
import { SafeCoderError } from '../../shared/errors.js'
import { WORKSPACE } from '../../sandbox/types.js'

const HINT = 'Paths are relative to the project root, e.g. "src/index.ts"; "." is the root.'

/**
 * Confines a path the model gave to the project: returns it relative to the root ("." for the
 * root itself), with "/workspace/..." accepted as a spelling of the same thing. Any other
 * absolute path, and any ".." that climbs above the root, is refused with PATH_REJECTED, which
 * the tool runner turns into an error the model reads. Symlinks are judged later, inside the
 * sandbox, where they live.
 */
export function projectPath(input: string, options: { allowRoot?: boolean } = {}): string {
  if (input.includes('\0')) throw refused(input, 'it contains a NUL byte')
  let relative = input
  if (path.isAbsolute(input)) {
    const normal = path.normalize(input)
    if (normal !== WORKSPACE && !normal.startsWith(`${WORKSPACE}/`)) {
      throw refused(input, 'absolute paths outside the project are not allowed')
    }
    relative = normal.slice(WORKSPACE.length + 1)
  }
  const normal = relative === '' ? '.' : path.normalize(relative).replace(/\/+$/, '')
  if (normal === '..' || normal.startsWith('../')) {
    throw refused(input, 'it leads out of the project root')
  }
  const result = normal === '' ? '.' : normal
  if (result === '.' && options.allowRoot !== true) {
    throw refused(input, 'it names the project root, not a file')
  }
  return result
}

function refused(input: string, why: string): SafeCoderError {
  return new SafeCoderError('PATH_REJECTED', `Path ${JSON.stringify(input)} was refused: ${why}.`, {
    hint: HINT,
    data: { path: input },
  })
}
