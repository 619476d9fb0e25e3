import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile, lstat } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'
import { tempDir } from '../helpers/sandbox.js'

async function sha(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
}

// What a hostile agent leaves in its workspace, then what the host does with it.
const HOSTILE = (outside: string, marker: string): string => `
set -e
ln -s /etc/passwd pw
ln -s ${outside}/secret.txt outside-link
mkfifo fifo
printf '#!/bin/sh\\necho suid\\n' > suid && chmod 4755 suid
touch "$(printf 'new\\nline')"
touch "$(printf 'bad\\377name')"
mkdir -p .git/hooks sub/.git/hooks
printf '#!/bin/sh\\ntouch ${marker}\\n' > .git/hooks/post-checkout
cp .git/hooks/post-checkout sub/.git/hooks/post-checkout
chmod +x .git/hooks/post-checkout sub/.git/hooks/post-checkout
printf '[core]\\n\\tfsmonitor = touch ${marker}\\n' > sub/.git/config
echo '* filter=evil' > .gitattributes
echo changed > sub/file.txt
truncate -s 2G sparse.bin
mkdir many && cd many && seq 50000 | xargs touch
`

describe('hostile workspace content', () => {
  it('records, reviews and syncs it without reading or writing outside the project or running anything', async () => {
    await requireDocker()
    const project = await sampleProject()
    await mkdir(path.join(project, 'sub'))
    await writeFile(path.join(project, 'sub/file.txt'), 'original\n')
    const outside = await tempDir('safe-coder-outside-')
    await writeFile(path.join(outside, 'secret.txt'), 'host secret\n')
    const marker = path.join(outside, 'HOOK-RAN')
    const passwd = await sha('/etc/passwd')
    const secret = await sha(path.join(outside, 'secret.txt'))
    // A bounded heap: a command that loaded the 2 GB file or 50,000 files' worth at once would die.
    const env = await isolatedEnv({
      SAFE_CODER_IMAGE: BUSYBOX_IMAGE,
      NODE_OPTIONS: '--max-old-space-size=256',
    })
    // Each step waits for its command to exit, however long a loaded machine makes it take.
    const run = (args: string[]) => runBuilt(args, { cwd: project, env })

    const exec = await run(['exec', '--', 'sh', '-c', HOSTILE(outside, marker)])
    expect(exec.exitCode, String(exec.stderr)).toBe(0)
    expect(exec.stderr).toMatch(/not recorded: "fifo" \(fifo\)/)
    expect(exec.stderr).toMatch(/not recorded: .*bad.*name.* \(invalid-utf8\)/)
    const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(String(exec.stderr))?.[1] ?? ''

    const log = await run(['log', id, '-n', '1'])
    expect(log.exitCode).toBe(0)
    expect(log.stdout).toMatch(/… and \d+ more files/)
    const [last] = JSON.parse(String((await run(['log', id, '-n', '1', '--json'])).stdout)) as {
      files: { path: string; status: string; tooLarge: boolean; newMode?: number }[]
    }[]
    const files = new Map((last?.files ?? []).map((f) => [f.path, f]))
    for (const recorded of [
      'pw',
      'outside-link',
      'suid',
      'new\nline',
      'sub/file.txt',
      'sub/.git/hooks/post-checkout',
      'sub/.git/config',
      '.git/hooks/post-checkout',
      '.gitattributes',
      'sparse.bin',
      'many/1',
      'many/50000',
    ]) {
      expect(files.has(recorded), recorded).toBe(true)
    }
    expect(files.size).toBe(50010)
    expect(files.get('sparse.bin')?.tooLarge).toBe(true)
    expect(files.get('suid')?.newMode).toBe(0o100755)
    expect(files.get('pw')?.newMode).toBe(0o120000)

    const diff = await run(['diff', id, '--no-color', '--', 'pw', 'sub', 'sparse.bin', 'suid'])
    expect(diff.exitCode).toBe(0)
    expect(diff.stdout).toContain('+/etc/passwd')
    expect(diff.stdout).toContain('-original\n+changed')
    expect(diff.stdout).not.toContain('root:x:0:0')

    const plan = await run(['sync', id, '--dry-run'])
    expect(plan.exitCode, String(plan.stderr)).toBe(0)
    expect(plan.stdout).toMatch(/skip\s+pw — refused: symlink/)
    expect(plan.stdout).toMatch(/skip\s+outside-link — refused: symlink/)
    expect(plan.stdout).toMatch(/\.git\/hooks\/post-checkout — refused/)
    expect(plan.stdout).toMatch(/sparse\.bin — over the size cap/)
    expect(plan.stdout).toMatch(/create\s+suid.*executable/)
    expect(plan.stdout).toMatch(/\.gitattributes.*git-config/)

    const sync = await run(['sync', id, '--yes'])
    expect(sync.exitCode, String(sync.stderr)).toBe(0)
    expect(await readFile(path.join(project, 'sub/file.txt'), 'utf8')).toBe('changed\n')
    expect((await lstat(path.join(project, 'suid'))).mode & 0o7777).toBe(0o755)
    expect((await readdir(path.join(project, 'many'))).length).toBe(50000)
    await expect(lstat(path.join(project, 'pw'))).rejects.toThrow()
    await expect(lstat(path.join(project, 'sparse.bin'))).rejects.toThrow()
    await expect(lstat(path.join(project, '.git'))).rejects.toThrow()

    // Nothing outside the project was read into the history, written, or executed.
    expect(await sha('/etc/passwd')).toBe(passwd)
    expect(await sha(path.join(outside, 'secret.txt'))).toBe(secret)
    expect(await readdir(outside)).toEqual(['secret.txt'])
    // Only a step that hangs gets this far: 50,000 files recorded and synced next to other
    // Docker work took over five minutes on two cores; this timeout is no performance budget.
  }, 900_000)
})
