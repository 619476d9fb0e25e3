import fs from 'node:fs'
import { readBlob, readCommit, readTree } from 'isomorphic-git'
import { SafeCoderError } from '../shared/errors.js'
import type { GitFileMode, Manifest } from '../shared/manifest.js'
import { loadBlobInfo } from './blob-info.js'
import { decodeTreeName } from './tree-name.js'

/** A commit's tree flattened (mirror names): files, and each directory's tree id. */
export interface FlatTree {
  manifest: Manifest
  trees: Map<string, string>
}

const fileModes: Record<string, GitFileMode> = {
  '100644': 0o100644,
  '100755': 0o100755,
  '120000': 0o120000,
}

/**
 * Reads a commit's whole tree through isomorphic-git's object reader (loose objects and packs).
 * Sizes and the too-large flag come from the blob side file; a blob it does not describe is read.
 *
 * @throws SafeCoderError NOT_FOUND when the commit or one of its objects is missing.
 */
export async function readFlatTree(gitdir: string, commit: string): Promise<FlatTree> {
  const cache = {}
  let root: string
  try {
    root = (await readCommit({ fs, gitdir, oid: commit, cache })).commit.tree
  } catch (error) {
    throw notFound(commit, error)
  }
  const infos = await loadBlobInfo(gitdir)
  const manifest: Manifest = {}
  const trees = new Map<string, string>()
  const visit = async (oid: string, base: string): Promise<void> => {
    trees.set(base, oid)
    const { tree } = await readTree({ fs, gitdir, oid, cache })
    const subtrees: Promise<void>[] = []
    for (const entry of tree) {
      const name = decodeTreeName(entry.path)
      const rel = base === '' ? name : `${base}/${name}`
      if (entry.type === 'tree') {
        subtrees.push(visit(entry.oid, rel))
        continue
      }
      const mode = fileModes[entry.mode]
      if (entry.type !== 'blob' || mode === undefined) continue
      const placeholder = infos.get(`${entry.oid} ${rel}`)
      if (placeholder !== undefined) {
        manifest[rel] = { oid: entry.oid, mode, size: placeholder.size, tooLarge: true }
        continue
      }
      const size =
        infos.get(entry.oid)?.size ??
        (await readBlob({ fs, gitdir, oid: entry.oid, cache })).blob.byteLength
      manifest[rel] = { oid: entry.oid, mode, size }
    }
    await Promise.all(subtrees)
  }
  try {
    await visit(root, '')
  } catch (error) {
    throw notFound(commit, error)
  }
  return { manifest, trees }
}

function notFound(commit: string, cause: unknown): SafeCoderError {
  return new SafeCoderError(
    'NOT_FOUND',
    `Commit ${commit} is not readable in the audit repository.`,
    {
      cause,
      hint: 'Pick a commit listed by `safe-coder log`.',
      data: { commit },
    },
  )
}
