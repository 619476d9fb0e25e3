import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf, SafeCoderError } from '../shared/errors.js'
import { configTemplate } from './template.js'

/**
 * Writes the commented template, creating its directory. Returns false, writing nothing, when
 * the file exists and `overwrite` is off; the no-clobber check and the write are one syscall.
 */
export async function writeConfigTemplate(file: string, overwrite: boolean): Promise<boolean> {
  try {
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, configTemplate(), { flag: overwrite ? 'w' : 'wx' })
    return true
  } catch (error) {
    const errno = errnoOf(error)
    if (errno === 'EEXIST') return false
    // There is no I/O error code; a path the user cannot write is theirs to change.
    throw new SafeCoderError('USAGE', `Cannot write ${file} (${errno ?? 'unknown error'}).`, {
      hint: 'Choose a location you can write to.',
      cause: error,
      data: { file },
    })
  }
}
