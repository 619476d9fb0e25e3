import { execFileSync } from 'node:child_process'
import { chmod, mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  blobOid,
  encodeTreeName,
  headCommit,
  manifestAt,
  snapshot,
} from '../../../src/git/index.js'
import { createRepo, git, lsTree, put } from './fixtures.js'

describe('snapshot', () => {
  it('records a hostile mirror as one valid commit that git reads back identically', async () => {
    const { repo, root } = await createRepo(4096)
    await put(repo, 'src/a.ts', 'export const a = 1\n')
    await put(repo, 'run.sh', '#!/bin/sh\necho hi\n')
    await chmod(path.join(repo.workDir, 'run.sh'), 0o4755)
    await symlink('/etc/passwd', path.join(repo.workDir, 'passwd'))
    execFileSync('mkfifo', [path.join(repo.workDir, 'pipe')])
    await put(repo, 'big.bin', Buffer.alloc(5000, 7))
    await put(repo, 'new\nline.txt', 'newline\n')
    await put(repo, 'sub/file.txt', 'visible\n')
    const marker = path.join(root, 'hook-ran')
    await put(repo, 'sub/.git/hooks/post-checkout', `#!/bin/sh\ntouch ${marker}\n`)
    await chmod(path.join(repo.workDir, 'sub/.git/hooks/post-checkout'), 0o755)
    await put(repo, 'sub/.git/HEAD', 'ref: refs/heads/main\n')
    await put(repo, 'empty/.keep', '')

    const progress: number[] = []
    const result = await snapshot(repo, {
      message: 'Snapshot of the project',
      trailers: { Session: 's-1' },
      onProgress: (done) => progress.push(done),
    })

    expect(result.commit).toBe(await headCommit(repo))
    expect(result.skipped).toEqual([{ path: 'pipe', reason: 'fifo' }])
    expect(progress.at(-1)).toBe(9)
    expect(result.manifest['passwd']).toEqual({
      oid: blobOid(Buffer.from('/etc/passwd')),
      mode: 0o120000,
      size: 11,
    })
    expect(result.manifest['run.sh']?.mode).toBe(0o100755)
    expect(result.manifest['big.bin']).toMatchObject({ mode: 0o100644, size: 5000, tooLarge: true })
    expect(result.manifest['sub/.git/hooks/post-checkout']?.mode).toBe(0o100755)
    expect(await manifestAt(repo, result.commit)).toEqual(result.manifest)

    git(repo, 'fsck', '--strict', '--no-dangling')
    const tree = lsTree(repo)
    const stored = `sub/${encodeTreeName('.git')}`
    expect([...tree.keys()].sort()).toEqual(
      [
        'big.bin',
        'empty/.keep',
        'new\nline.txt',
        'passwd',
        'run.sh',
        'src/a.ts',
        `${stored}/HEAD`,
        `${stored}/hooks/post-checkout`,
        'sub/file.txt',
      ].sort(),
    )
    expect(tree.get('passwd')).toBe(`120000 ${blobOid(Buffer.from('/etc/passwd'))}`)
    expect(git(repo, 'cat-file', 'blob', 'HEAD:passwd')).toBe('/etc/passwd')
    expect(git(repo, 'cat-file', 'blob', 'HEAD:run.sh')).toBe('#!/bin/sh\necho hi\n')
    expect(git(repo, 'cat-file', 'blob', 'HEAD:big.bin')).toContain('over the 4096-byte limit')
    expect(tree.get('new\nline.txt')).toBe(`100644 ${blobOid(Buffer.from('newline\n'))}`)
    expect(git(repo, 'ls-tree', 'HEAD', 'sub/')).not.toContain('160000')
    expect(git(repo, 'log', '-1', '--format=%an <%ae>%n%B')).toBe(
      'Safe Coder <safe-coder@localhost>\nSnapshot of the project\n\nSession: s-1\n\n',
    )
    expect(await readdir(path.join(repo.gitdir, 'objects', 'pack'))).toHaveLength(2)
    expect(await readdir(root)).not.toContain('hook-ran')
  })

  it('records an empty mirror and refuses a second snapshot', async () => {
    const { repo } = await createRepo()
    const result = await snapshot(repo, { message: 'empty' })
    expect(result.manifest).toEqual({})
    git(repo, 'fsck', '--strict')
    await expect(snapshot(repo, { message: 'again' })).rejects.toMatchObject({ code: 'INTERNAL' })
  })

  it('skips names that are not valid UTF-8 and keeps names git would refuse, escaped', async () => {
    const { repo } = await createRepo()
    await mkdir(path.join(repo.workDir, 'd'))
    const bad = Buffer.concat([
      Buffer.from(`${repo.workDir}/d/bad`),
      Buffer.from([0xff]),
      Buffer.from('name'),
    ])
    await writeFile(bad, 'x')
    await put(repo, 'd/back\\slash', 'b')
    await put(repo, 'd/...', 'dots')
    await put(repo, 'd/=sc=real', 'marker')
    const result = await snapshot(repo, { message: 'names' })
    expect(result.skipped).toEqual([{ path: 'd/bad\uFFFDname', reason: 'invalid-utf8' }])
    expect(Object.keys(result.manifest).sort()).toEqual(['d/...', 'd/=sc=real', 'd/back\\slash'])
    expect(await manifestAt(repo, 'HEAD')).toEqual(result.manifest)
    git(repo, 'fsck', '--strict')
  })

  it('stops on abort', async () => {
    const { repo } = await createRepo()
    await put(repo, 'a', 'a')
    await expect(
      snapshot(repo, { message: 'x', signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({
      code: 'ABORTED',
    })
  })
})
