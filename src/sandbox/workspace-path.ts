import path from 'node:path/posix'
import { SafeCoderError } from '../shared/errors.js'
import { WORKSPACE } from './types.js'

/**
 * Resolves a path given to a sandbox to an absolute path inside /workspace, lexically.
 * Rejects absolute paths outside it, `..` escapes and NUL bytes. Symlinks are resolved later,
 * inside the sandbox, where they live.
 */
export function toWorkspacePath(input: string): string {
  if (input.includes('\0')) {
    throw rejected(input, 'it contains a NUL byte')
  }
  const joined = path.isAbsolute(input) ? path.normalize(input) : path.join(WORKSPACE, input)
  if (joined !== WORKSPACE && !joined.startsWith(`${WORKSPACE}/`)) {
    throw rejected(
      input,
      path.isAbsolute(input) ? 'it is outside /workspace' : 'it leads out of /workspace',
    )
  }
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined
}

function rejected(input: string, why: string): SafeCoderError {
  return new SafeCoderError('PATH_REJECTED', `Path ${JSON.stringify(input)} was refused: ${why}.`, {
    hint: 'Use a path relative to the workspace root, without "..".',
    data: { path: input },
  })
}
