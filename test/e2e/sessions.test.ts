import { createHash } from 'node:crypto'
import { lstat, readFile, readdir, readlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { binPath, isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireDocker, waitForContainer } from '../helpers/docker.js'

/** Every path of a tree with its kind, mode and content hash: "exactly as it was" means equal. */
async function treeHash(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of (await readdir(path.join(root, rel))).sort()) {
    const p = path.join(rel, name)
    const info = await lstat(path.join(root, p))
    if (info.isDirectory())
      Object.assign(out, { [p]: `dir ${info.mode & 0o7777}` }, await treeHash(root, p))
    else if (info.isSymbolicLink()) out[p] = `link ${await readlink(path.join(root, p))}`
    else
      out[p] = `file ${info.mode & 0o7777} ${createHash('sha256')
        .update(await readFile(path.join(root, p)))
        .digest('hex')}`
  }
  return out
}

async function startSession(
  project: string,
  env: Record<string, string>,
  script: string,
): Promise<string> {
  const result = await runBuilt(['exec', '--', 'sh', '-c', script], { cwd: project, env })
  expect(result.exitCode, String(result.stderr)).toBe(0)
  const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(String(result.stderr))?.[1]
  expect(id).toBeDefined()
  return id ?? ''
}

describe('sessions: record, review, sync, undo', () => {
  it('records each command as a commit, syncs it back three-way, and undoes the sync byte for byte', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const original = await treeHash(project)
    const id = await startSession(
      project,
      env,
      'echo more >> hello.txt; echo new > new.txt; rm src/main.sh',
    )
    const second = await runBuilt(
      ['exec', '--session', id, '--', 'sh', '-c', 'mkdir -p docs && echo guide > docs/guide.md'],
      { cwd: project, env },
    )
    expect(second.exitCode).toBe(0)

    const list = JSON.parse(String((await runBuilt(['sessions', '--json'], { env })).stdout)) as {
      sessions: {
        id: string
        commits: number
        changedFiles: number
        unsynced: boolean
        status: string
      }[]
    }
    expect(list.sessions).toEqual([
      expect.objectContaining({
        id,
        commits: 2,
        changedFiles: 4,
        unsynced: true,
        status: 'stopped',
      }),
    ])

    const log = await runBuilt(['log', id], { env })
    expect(log.stdout).toMatch(/exec: sh -c mkdir -p docs.*exit 0/)
    expect(log.stdout).toMatch(/deleted\s+\+0 -2\s+src\/main\.sh/)
    expect(log.stdout).toMatch(/snapshot:/)
    const diff = await runBuilt(['diff', id, '--no-color'], { env })
    expect(diff.stdout).toContain('+more')
    expect(diff.stdout).toContain('deleted file mode 100755')

    expect(await treeHash(project)).toEqual(original)
    const sync = await runBuilt(['sync', id], { env })
    expect(sync.exitCode, String(sync.stderr)).toBe(0)
    expect(sync.stdout).toMatch(/applied 4 changes/)
    expect(await readFile(path.join(project, 'hello.txt'), 'utf8')).toBe(
      'hello from the project\nmore\n',
    )
    expect(await readFile(path.join(project, 'docs/guide.md'), 'utf8')).toBe('guide\n')
    await expect(lstat(path.join(project, 'src/main.sh'))).rejects.toThrow()

    const undo = await runBuilt(['sync', '--undo', id], { env })
    expect(undo.exitCode, String(undo.stderr)).toBe(0)
    expect(await treeHash(project)).toEqual(original)
  })

  it('reverts one file of a commit as a new commit that the next command sees', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const id = await startSession(project, env, 'echo bad > hello.txt; echo keep > keep.txt')
    const [commit] = JSON.parse(
      String((await runBuilt(['log', id, '--json', '-n', '1'], { env })).stdout),
    ) as { oid: string }[]
    const revert = await runBuilt(['revert', id, commit?.oid ?? '', '--', 'hello.txt'], { env })
    expect(revert.exitCode, String(revert.stderr)).toBe(0)
    expect(revert.stdout).toMatch(/reverted \w{12} as \w{12} \(1 files\)/)
    const seen = await runBuilt(['exec', '--session', id, '--', 'cat', 'hello.txt', 'keep.txt'], {
      cwd: project,
      env,
    })
    expect(seen.stdout).toBe('hello from the project\nkeep')
    const diff = await runBuilt(['diff', id, '--stat', '--', 'hello.txt'], { env })
    expect(String(diff.stdout).trim()).toBe('')
  })

  it('lists a conflict instead of overwriting a file the user changed, until --force', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const id = await startSession(project, env, 'echo from-agent > hello.txt')
    await writeFile(path.join(project, 'hello.txt'), 'from-user\n')
    const sync = await runBuilt(['sync', id], { env })
    expect(sync.exitCode).toBe(65)
    expect(sync.stdout).toMatch(/conflict\s+hello\.txt/)
    expect(await readFile(path.join(project, 'hello.txt'), 'utf8')).toBe('from-user\n')
    const forced = await runBuilt(['sync', id, '--force', 'hello.txt'], { env })
    expect(forced.exitCode, String(forced.stdout)).toBe(0)
    expect(await readFile(path.join(project, 'hello.txt'), 'utf8')).toBe('from-agent\n')
  })

  it('needs --yes for risky changes such as a CI workflow', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const id = await startSession(
      project,
      env,
      'mkdir -p .github/workflows && echo "on: push" > .github/workflows/ci.yml',
    )
    const refused = await runBuilt(['sync', id], { env })
    expect(refused.exitCode).toBe(64)
    expect(`${String(refused.stdout)}${String(refused.stderr)}`).toMatch(
      /\.github\/workflows\/ci\.yml/,
    )
    await expect(lstat(path.join(project, '.github'))).rejects.toThrow()
    const confirmed = await runBuilt(['sync', id, '--yes'], { env })
    expect(confirmed.exitCode, String(confirmed.stderr)).toBe(0)
    expect(String(confirmed.stdout)).toMatch(/ci-workflow: CI runs it on the next push/)
    expect(String(confirmed.stdout)).toMatch(/Risky changes confirmed with --yes\./)
    expect(String(confirmed.stdout)).not.toMatch(/need confirmation/)
    expect(await readFile(path.join(project, '.github/workflows/ci.yml'), 'utf8')).toBe(
      'on: push\n',
    )
  })

  it('runs one command at a time per session and survives a SIGKILL mid-command', async () => {
    const docker = await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const id = await startSession(project, env, 'true')
    const long = execa(
      process.execPath,
      [
        binPath,
        'exec',
        '--session',
        id,
        '--',
        'sh',
        '-c',
        'echo partial > partial.txt; sleep 1000',
      ],
      {
        cwd: project,
        env,
        extendEnv: false,
        reject: false,
      },
    )
    const filters = { label: [`safe-coder.session=${id}`] }
    await waitForContainer(docker, `safe-coder.session=${id}`)
    await new Promise((r) => setTimeout(r, 500))
    const busy = await runBuilt(['exec', '--session', id, '--', 'true'], { cwd: project, env })
    expect(busy.exitCode).toBe(64)
    expect(busy.stderr).toMatch(/is busy: safe-coder process \d+ is running a command in it/)

    long.kill('SIGKILL')
    await long
    const listed = JSON.parse(String((await runBuilt(['sessions', '--json'], { env })).stdout)) as {
      sessions: { id: string; status: string }[]
    }
    expect(listed.sessions.find((s) => s.id === id)?.status).toBe('stopped')
    const resume = await runBuilt(['resume', id], { cwd: project, env })
    expect(resume.exitCode, String(resume.stderr)).toBe(0)
    expect(resume.stdout).toMatch(/removed the old sandbox/)
    expect(resume.stdout).toMatch(/recorded 1 file\(s\) an interrupted command left behind/)
    expect(await docker.listContainers({ all: true, filters })).toEqual([])

    const next = await runBuilt(['exec', '--session', id, '--', 'cat', 'partial.txt'], {
      cwd: project,
      env,
    })
    expect(next.exitCode, String(next.stderr)).toBe(0)
    expect(next.stdout).toBe('partial')
    expect(next.stderr).toMatch(/no changes/)
    const fsck = await execa(
      'git',
      [
        '--git-dir',
        path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions', id, 'audit.git'),
        'fsck',
        '--strict',
      ],
      { reject: false },
    )
    expect(fsck.exitCode, fsck.stderr).toBe(0)
    const sync = await runBuilt(['sync', id], { env })
    expect(sync.exitCode, String(sync.stderr)).toBe(0)
    expect(await readFile(path.join(project, 'partial.txt'), 'utf8')).toBe('partial\n')
  })

  it('records what reached the mirror when the container is killed from outside, and resumes', async () => {
    const docker = await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const id = await startSession(project, env, 'true')
    const running = runBuilt(
      ['exec', '--session', id, '--', 'sh', '-c', 'echo before-kill > k.txt; sleep 1000'],
      { cwd: project, env },
    )
    const container = await waitForContainer(docker, `safe-coder.session=${id}`)
    await new Promise((r) => setTimeout(r, 500))
    await docker.getContainer(container).kill()
    const result = await running
    expect(result.exitCode).toBe(70)
    expect(result.stderr).toMatch(/is gone .*the container stopped/)
    const log = await runBuilt(['log', id, '-n', '1'], { env })
    expect(log.stdout).toMatch(/exit sandbox-gone/)
    expect(log.stdout).toMatch(/added\s+\+1 -0\s+k\.txt/)
    const listed = JSON.parse(String((await runBuilt(['sessions', '--json'], { env })).stdout)) as {
      sessions: { id: string; status: string }[]
    }
    expect(listed.sessions.find((s) => s.id === id)?.status).toBe('stopped')
    const resume = await runBuilt(['resume', id], { env })
    expect(resume.exitCode, String(resume.stderr)).toBe(0)
    const again = await runBuilt(['exec', '--session', id, '--', 'cat', 'k.txt'], {
      cwd: project,
      env,
    })
    expect(again.stdout).toBe('before-kill')
  })

  it('leaves the project in one consistent state when sync is killed half-way', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const original = await treeHash(project)
    const id = await startSession(
      project,
      env,
      'mkdir many && cd many && seq 20000 | xargs touch && echo done > ../hello.txt',
    )
    const sync = execa(process.execPath, [binPath, 'sync', id], {
      env,
      extendEnv: false,
      reject: false,
    })
    // Kill once the journal says writing has started, so the kill lands mid-apply.
    const journals = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions', id, 'journals')
    for (let i = 0; i < 300; i++) {
      const started = await readdir(journals).then(
        async (names) =>
          (
            await Promise.all(
              names.map((n) => readFile(path.join(journals, n, 'state'), 'utf8').catch(() => '')),
            )
          ).some((t) => t.includes('started')),
        () => false,
      )
      if (started) break
      await new Promise((r) => setTimeout(r, 20))
    }
    sync.kill('SIGKILL')
    await sync
    const partial = (await readdir(path.join(project, 'many')).catch(() => [])).length
    // The next sync first rolls the interrupted one back, then applies everything.
    const again = await runBuilt(['sync', id], { env })
    expect(again.exitCode, String(again.stderr)).toBe(0)
    if (partial > 0 && partial < 20000)
      expect(again.stderr).toMatch(/interrupted sync .* rolled back/)
    expect((await readdir(path.join(project, 'many'))).length).toBe(20000)
    expect(await readFile(path.join(project, 'hello.txt'), 'utf8')).toBe('done\n')
    const undo = await runBuilt(['sync', '--undo', id], { env })
    expect(undo.exitCode, String(undo.stderr)).toBe(0)
    expect(await treeHash(project)).toEqual(original)
  })

  it('refuses unknown sessions and discards only when confirmed', async () => {
    const env = await isolatedEnv()
    const missing = await runBuilt(['log', 's-abc-0123abcd'], { env })
    expect(missing.exitCode).toBe(66)
    expect(missing.stderr).toMatch(/No session s-abc-0123abcd/)
    const bad = await runBuilt(['diff', '../../etc'], { env })
    expect(bad.exitCode).toBe(64)
    await requireDocker()
    const project = await sampleProject()
    const id = await startSession(
      project,
      { ...env, SAFE_CODER_IMAGE: BUSYBOX_IMAGE },
      'echo x > x.txt',
    )
    const unconfirmed = await runBuilt(['discard', id], { env })
    expect(unconfirmed.exitCode).toBe(64)
    expect(unconfirmed.stderr).toMatch(/deletes its work \(1 commits, never synced\)/)
    const sessionDir = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions', id)
    expect((await lstat(sessionDir)).isDirectory()).toBe(true)
    const confirmed = await runBuilt(['discard', id, '--yes'], { env })
    expect(confirmed.exitCode).toBe(0)
    await expect(lstat(sessionDir)).rejects.toThrow()
  })
})
