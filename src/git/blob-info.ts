import { appendFile, readFile } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'

/**
 * Sizes of recorded blobs and which blobs stand in for too-large files, kept beside the objects
 * (git trees hold neither): `<oid> <size>` per line, plus the JSON path for a placeholder. It
 * only grows, and lines are appended before HEAD moves, so every committed blob is described; a
 * torn last line after a kill is ignored.
 */
export interface BlobInfo {
  oid: string
  size: number
  /** Set when the blob is the placeholder of a too-large file at this path. */
  tooLargePath?: string
}

export function blobInfoFile(gitdir: string): string {
  return path.join(gitdir, 'safe-coder', 'blobs')
}

export async function appendBlobInfo(gitdir: string, infos: readonly BlobInfo[]): Promise<void> {
  if (infos.length === 0) return
  const lines = infos.map((info) =>
    info.tooLargePath === undefined
      ? `${info.oid} ${info.size}\n`
      : `${info.oid} ${info.size} ${JSON.stringify(info.tooLargePath)}\n`,
  )
  await appendFile(blobInfoFile(gitdir), lines.join(''))
}

/** Known blobs by id; a placeholder is keyed by `<oid> <path>` so only that path is too large. */
export async function loadBlobInfo(gitdir: string): Promise<Map<string, BlobInfo>> {
  let text: string
  try {
    text = await readFile(blobInfoFile(gitdir), 'utf8')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return new Map()
    throw error
  }
  const infos = new Map<string, BlobInfo>()
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{40}) (\d+)(?: (".*"))?$/.exec(line)
    if (match === null) continue
    const oid = match[1] as string
    const size = Number(match[2])
    if (match[3] === undefined) {
      infos.set(oid, { oid, size })
      continue
    }
    try {
      const tooLargePath = JSON.parse(match[3]) as unknown
      if (typeof tooLargePath === 'string')
        infos.set(`${oid} ${tooLargePath}`, { oid, size, tooLargePath })
    } catch {
      continue
    }
  }
  return infos
}
