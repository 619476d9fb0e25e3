import { mkdir, open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { deflate } from 'node:zlib'
import { objectId, wrapObject, type GitObjectType } from './object-id.js'

const deflateAsync = promisify(deflate)

/**
 * Writes one loose object and returns its id. isomorphic-git's writer creates the object file in
 * place and later skips any path that exists, so a kill mid-write would leave a torn object that
 * no later commit repairs; here the object appears under its name only once complete (temp file
 * + rename, as git itself does). Level 1 compression is git's own default for loose objects.
 */
export async function writeLooseObject(
  gitdir: string,
  type: GitObjectType,
  content: Uint8Array,
): Promise<string> {
  const oid = objectId(type, content)
  const dir = path.join(gitdir, 'objects', oid.slice(0, 2))
  const file = path.join(dir, oid.slice(2))
  const data = await deflateAsync(wrapObject(type, content), { level: 1 })
  const temp = path.join(
    dir,
    `tmp_obj_${process.pid}_${oid.slice(2, 10)}_${Math.random().toString(36).slice(2)}`,
  )
  let handle
  try {
    handle = await open(temp, 'wx', 0o444)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    await mkdir(dir, { recursive: true })
    handle = await open(temp, 'wx', 0o444)
  }
  try {
    await handle.writeFile(data)
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  return oid
}
