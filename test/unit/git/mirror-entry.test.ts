import { mkdir, symlink } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readMirrorEntry, type LargeFileSink } from '../../../src/git/mirror-entry.js'
import { createRepo, put } from './fixtures.js'

// Every file here is small: one handed to the large-file path would be a failure.
const noLargeFiles: LargeFileSink = () => Promise.reject(new Error('not a large file'))

describe('readMirrorEntry', () => {
  // The moment a live process has swapped a parent directory for a link (the scan race): Node
  // cannot open relative to a directory descriptor, so the path resolves through the link.
  // Freezing the sandbox prevents that moment; this is the second line behind it.
  it('refuses files and links on another device than the mirror, as reached through a swapped parent', async () => {
    const { repo } = await createRepo()
    await symlink('/proc/self', path.join(repo.workDir, 'swapped'))
    expect(await readMirrorEntry(repo, 'swapped/cmdline', noLargeFiles)).toEqual({
      kind: 'skip',
      reason: 'other-device',
    })
    expect(await readMirrorEntry(repo, 'swapped/exe', noLargeFiles)).toEqual({
      kind: 'skip',
      reason: 'other-device',
    })
  })

  it('reads files, links and directories of the mirror itself', async () => {
    const { repo } = await createRepo()
    await put(repo, 'dir/file.txt', 'content\n')
    await symlink('/etc/passwd', path.join(repo.workDir, 'link'))
    await mkdir(path.join(repo.workDir, 'empty'))
    const file = await readMirrorEntry(repo, 'dir/file.txt', noLargeFiles)
    expect(file.kind === 'blob' && file.content.toString()).toBe('content\n')
    const link = await readMirrorEntry(repo, 'link', noLargeFiles)
    expect(link.kind === 'blob' && link.mode === 0o120000 && link.content.toString()).toBe(
      '/etc/passwd',
    )
    expect(await readMirrorEntry(repo, 'empty', noLargeFiles)).toEqual({ kind: 'directory' })
  })
})
