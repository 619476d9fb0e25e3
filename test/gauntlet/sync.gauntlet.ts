import { createHash } from 'node:crypto'
import { lstat, readFile, readdir, readlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { expect } from 'vitest'
import { gauntlet, host, suite } from './helpers/cases.js'
import { show, type CliResult, type World } from './helpers/world.js'

/**
 * Syncs that stay exact when repeated or concurrent (issue 15): a sync after every call brings
 * exactly HEAD; syncs of several sessions of one project at once never overwrite each other
 * silently; a directory and a file swapped both ways sync and undo. Calls are `exec` (cheap).
 */

/** A tree as `path mode blob-id` lines plus `dir/` for each folder (`.git` skipped). */
async function projectTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of await readdir(path.join(root, rel))) {
    if (name === '.git') continue
    const child = rel === '' ? name : `${rel}/${name}`
    const full = path.join(root, child)
    const info = await lstat(full)
    if (info.isDirectory()) out.push(`${child}/`, ...(await projectTree(root, child)))
    else if (info.isSymbolicLink())
      out.push(`${child} 120000 ${blobId(Buffer.from(await readlink(full)))}`)
    else
      out.push(
        `${child} ${info.mode & 0o100 ? '100755' : '100644'} ${blobId(await readFile(full))}`,
      )
  }
  return rel === '' ? out.sort() : out
}

function blobId(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex')
}

/** The session's HEAD in the same form, read by git itself (`-t` lists the folders too). */
async function headTree(w: World, id: string): Promise<string[]> {
  const listing = await host(
    'git',
    [
      '-c',
      'core.hooksPath=/dev/null',
      '--git-dir',
      path.join(w.sessionsDir, id, 'audit.git'),
      'ls-tree',
      '-r',
      '-t',
      '-z',
      'HEAD',
    ],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: w.home, GIT_CONFIG_NOSYSTEM: '1' } },
  )
  expect(listing.exitCode, listing.stderr).toBe(0)
  return listing.stdout
    .split('\0')
    .filter((entry) => entry !== '')
    .map((entry) => {
      const [meta = '', file = ''] = entry.split('\t')
      const [mode, type, oid] = meta.split(' ')
      return type === 'tree' ? `${file}/` : `${file} ${mode ?? ''} ${oid ?? ''}`
    })
    .sort()
}

/** Awaits a CLI run and checks its exit status (0 unless others are allowed). */
async function run<T extends CliResult>(result: Promise<T>, ...ok: number[]): Promise<T> {
  const done = await result
  expect(ok.length === 0 ? [0] : ok, show(done)).toContain(done.exitCode)
  return done
}

/** One `exec` call in the session; returns the commit it made (as `exec` reports it). */
async function call(w: World, id: string, script: string): Promise<string> {
  const done = await run(w.exec(script, { session: id }))
  const commit = /recorded as ([0-9a-f]{12})/.exec(done.stderr)?.[1]
  expect(commit, show(done)).toBeDefined()
  return commit ?? ''
}

async function expectProjectIsHead(w: World, id: string, what: string): Promise<void> {
  expect(await projectTree(w.project), `the project after ${what} = HEAD`).toEqual(
    await headTree(w, id),
  )
}

suite('load', (backend) => {
  gauntlet(
    backend,
    'a sync after each of 20 calls (create, edit, delete, revert)',
    async (w, c) => {
      const first = await run(w.exec('mkdir -p docs && echo a > docs/a.md && echo b > docs/b.md'))
      const id = first.id
      const calls: (string | ((commits: string[]) => string[]))[] = [
        'echo edited >> hello.txt',
        'rm docs/b.md',
        'mkdir -p lib/x && echo y > lib/x/y.txt',
        // Back to the content it had at copy time: the project must get it back too.
        "printf 'hello from the project\\n' > hello.txt",
        'rm -r lib',
        (commits) => ['revert', id, commits[4] ?? ''],
        'chmod +x docs/a.md',
        'mv docs/a.md docs/c.md',
        'rm src/main.sh',
        (commits) => ['revert', id, commits[8] ?? ''],
        'ln -s hello.txt link',
        'echo more >> README.md',
        'rm -r docs && echo now a file > docs',
        'rm docs && mkdir docs && echo d > docs/d.md',
        (commits) => ['revert', id, commits[11] ?? ''],
        'rm hello.txt',
        'echo brand new > hello.txt',
        (commits) => ['revert', id, commits[16] ?? ''],
        'echo last >> README.md',
      ]
      const commits: string[] = []
      const started = Date.now()
      let syncMs = 0
      let lastTree: string[] = []
      const syncNow = async (n: number): Promise<void> => {
        const t = Date.now()
        const sync = await run(w.cli(['sync', id, '--yes']))
        syncMs += Date.now() - t
        expect(sync.stdout, `sync ${n}`).not.toMatch(/^\s+conflict\s/m)
        await expectProjectIsHead(w, id, `sync ${n}`)
      }
      await syncNow(1)
      for (const [index, next] of calls.entries()) {
        if (typeof next === 'string') commits.push(await call(w, id, next))
        else {
          await run(w.cli(next(commits)))
          commits.push('(a revert)')
        }
        if (index === calls.length - 1) lastTree = await projectTree(w.project)
        await syncNow(index + 2)
      }
      // The CLI's own start-up, measured now: what a sync costs beyond it is Safe Coder's work.
      const t = Date.now()
      await run(w.cli(['--version']))
      c.note(
        `20 calls, 20 syncs in ${((Date.now() - started) / 1000).toFixed(1)} s; a sync through the CLI ${(syncMs / 20).toFixed(0)} ms on average (\`safe-coder --version\`: ${Date.now() - t} ms)`,
      )
      // A sync with nothing to bring leaves undo alone: the next undo takes back sync 20.
      const empty = await run(w.cli(['sync', id, '--yes']))
      expect(empty.stdout).not.toMatch(/undo with/)
      await run(w.cli(['sync', '--undo', id]))
      expect(await projectTree(w.project), 'undo of sync 20: the project after sync 19').toEqual(
        lastTree,
      )
      await run(w.cli(['sync', id, '--yes']))
      await expectProjectIsHead(w, id, 'undo and sync again')
      await w.rebaseProject()
    },
    // About 45 CLI runs: quick on an idle machine, minutes on a loaded one.
    { timeoutMs: 900_000 },
  )

  gauntlet(
    backend,
    'syncs of 2, then 5 sessions of one project at once',
    async (w, c) => {
      const original = await projectTree(w.project)
      const made = await Promise.all(
        [0, 1, 2, 3, 4].map((i) =>
          run(w.exec(`echo session ${i} > hello.txt && echo ${i} > own-${i}.txt`)),
        ),
      )
      const ids = made.map((m) => m.id)
      for (const group of [ids.slice(0, 2), ids]) {
        // Waiting for each other (a loaded machine may take long): none may report "busy".
        const results = await Promise.all(
          group.map((id) => run(w.cli(['sync', id, '--yes', '--wait', '600']), 0, 65)),
        )
        // Exactly one brought its hello.txt; every other one reports it as a conflict.
        const applied = results.filter((r) => r.exitCode === 0)
        expect(applied, results.map(show).join('\n')).toHaveLength(1)
        for (const r of results.filter((r) => r.exitCode === 65))
          expect(r.stdout, show(r)).toMatch(/conflict\s+hello\.txt/)
        const winner = group[results.indexOf(applied[0] as CliResult)]
        expect(await readFile(path.join(w.project, 'hello.txt'), 'utf8')).toBe(
          `session ${ids.indexOf(winner ?? '')}\n`,
        )
        for (const id of group) {
          const i = ids.indexOf(id)
          expect(await readFile(path.join(w.project, `own-${i}.txt`), 'utf8')).toBe(`${i}\n`)
        }
        c.note(
          `${group.length} at once: 1 applied hello.txt, ${group.length - 1} reported it as a conflict; each own file arrived`,
        )
        // Every undo works, also all at once; the project is as it was.
        await Promise.all(group.map((id) => run(w.cli(['sync', '--undo', id, '--wait', '600']))))
        expect(await projectTree(w.project)).toEqual(original)
      }
    },
    { timeoutMs: 600_000 },
  )
})

suite('input', (backend) => {
  gauntlet(
    backend,
    'a directory made a file and a file made a directory, synced and undone',
    async (w) => {
      const original = await projectTree(w.project)
      const made = await run(w.exec('rm -r src && echo now a file > src'))
      const id = made.id
      await run(w.cli(['sync', id]))
      await expectProjectIsHead(w, id, 'directory → file')
      const toDir = await call(w, id, 'rm src && mkdir -p src/deep && echo x > src/deep/x.txt')
      await run(w.cli(['sync', id]))
      await expectProjectIsHead(w, id, 'file → directory')
      const again = await run(w.cli(['sync', id]))
      expect(again.stdout).toMatch(/nothing to apply/)
      await run(w.cli(['revert', id, toDir]))
      await run(w.cli(['sync', id]))
      await expectProjectIsHead(w, id, 'the revert of file → directory')
      for (let i = 0; i < 3; i++) await run(w.cli(['sync', '--undo', id]))
      expect(await projectTree(w.project)).toEqual(original)
      // A folder holding what the session never saw (build output, say) is never replaced, even
      // with --force: a conflict naming it.
      await writeFile(path.join(w.project, 'src/build.log'), 'log\n')
      const refused = await run(w.cli(['sync', id, '--force', 'src']), 65)
      expect(refused.stdout).toMatch(/src\/build\.log/)
      await w.rebaseProject()
    },
    { timeoutMs: 300_000 },
  )
})
