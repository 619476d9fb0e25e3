import { chmod, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { expect } from 'vitest'
import { configLeaves, configSectionNames, type ConfigLeaf } from '../../src/config/schema-info.js'
import { gauntlet, suite, type CaseContext } from './helpers/cases.js'
import { QUICK } from './helpers/options.js'
import { expectCleanError } from './helpers/clean-error.js'
import { show, type CliResult, type World } from './helpers/world.js'

/**
 * Bad input at the edges: every command with missing or invalid arguments, every configuration
 * key with a wrong type and out of range (the keys come from the schema, so new keys are covered
 * without touching this file), files that do not parse, project paths that cannot be a project,
 * an image that does not exist, session ids that do not exist. Each must give one clear message
 * naming the problem and the fix, the documented exit status, and no stack trace.
 */

type Check = [args: string[], code: number | number[], names?: RegExp]

/** Runs `items` through `fn`, `limit` at a time (the CLI starts are CPU-bound: 2 cores). */
export async function pool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i] as T)
      }
    }),
  )
  return out
}

async function checkAll(w: World, c: CaseContext, checks: Check[]): Promise<void> {
  const failures: string[] = []
  const results = await pool(checks, 3, ([args]) => w.cli(args))
  checks.forEach(([, code, names], i) => {
    const result = results[i] as CliResult
    try {
      expectCleanError(result, code, names)
    } catch (error) {
      failures.push(
        `${result.command}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      )
    }
  })
  c.note(
    `${checks.length - failures.length}/${checks.length} clean: ${checks
      .map(([a, code]) => `${a.join(' ') || '(none)'}→${String(code)}`)
      .join(', ')
      .slice(0, 400)}`,
  )
  expect(failures, failures.join('\n')).toEqual([])
}

const NO_SESSION = 's-aaaaaaaa-00000000'

/** A session to point at (one command recorded). */
async function aSession(w: World): Promise<string> {
  const r = await w.exec('echo x > x.txt')
  expect(r.exitCode, show(r)).toBe(0)
  return r.id
}

/** A wrong-type value for a key, in TOML. */
function wrongType(leaf: ConfigLeaf): string {
  const node = leaf.node
  if (node.enum !== undefined) return '"no-such-choice"'
  switch (node.type) {
    case 'boolean':
      return '"yes"'
    case 'integer':
    case 'number':
      return '"ten"'
    case 'string':
      return node.format === 'uri' ? '"file:///etc/passwd"' : '42'
    case 'array':
      return '"not-a-list"'
    case 'object':
      return '5'
    default:
      return '{ nonsense = true }'
  }
}

/** An out-of-range value for a key, when its schema has a range. */
function outOfRange(leaf: ConfigLeaf): string | undefined {
  const node = leaf.node
  if (node.type === 'integer' && node.minimum !== undefined) return String(node.minimum - 1)
  if (node.type === 'integer' && node.maximum !== undefined && node.maximum < 1e9)
    return String(node.maximum + 1)
  if (node.type === 'number' && node.exclusiveMinimum !== undefined)
    return String(node.exclusiveMinimum)
  if (node.type === 'number' && node.maximum !== undefined) return String(node.maximum + 1)
  if (node.type === 'string' && node.minLength !== undefined) return '""'
  if (node.type === 'array' && node.items?.pattern !== undefined) return '["Not A Package!"]'
  if (node.type === 'array') return '[""]'
  if (node.type === 'object') return '{ "Bad Action" = "x" }'
  return undefined
}

const tomlKey = (key: string) => (/^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key))

suite('input', (backend) => {
  gauntlet(backend, 'no command, an unknown command, unknown options', async (w, c) => {
    const bare = await w.cli([])
    expect(bare.exitCode, show(bare)).toBe(64)
    expect(bare.stderr).toMatch(/^Usage: safe-coder/)
    await checkAll(w, c, [
      [['frobnicate'], 64, /unknown command 'frobnicate'/],
      [['sessions', 'extra'], 64, /too many arguments/],
      [['gc', '--frobnicate'], 64, /unknown option/],
      [['doctor', '--backend', 'kvm'], 64, /kvm/],
      [['image', 'frobnicate'], 64],
      [['image', 'build', '--frobnicate'], 64, /unknown option/],
      [['config', 'show', '--frobnicate'], 64, /unknown option/],
      [['config', 'frobnicate'], 64],
    ])
  })

  gauntlet(backend, 'exec: missing and invalid arguments', async (w, c) => {
    await checkAll(w, c, [
      [['exec'], 64, /missing required argument 'command'/],
      [['exec', '--timeout', 'soon', '--', 'true'], 64, /--timeout/],
      [['exec', '--timeout', '-1', '--', 'true'], 64, /--timeout/],
      [['exec', '--timeout', '0', '--', 'true'], 64, /--timeout/],
      [['exec', '--session', '../../etc', '--', 'true'], 64, /not a session id/],
      [['exec', '--session', NO_SESSION, '--', 'true'], 66, new RegExp(NO_SESSION)],
      [['exec', '--network', 'sideways', '--', 'true'], 64, /sideways/],
      [['exec', '--backend', 'kvm', '--', 'true'], 64, /kvm/],
      [['exec', '--session'], 64, /--session/],
    ])
  })

  gauntlet(backend, 'run, chat, tui: missing and invalid arguments', async (w, c) => {
    const script = path.join(w.root, 'bad-script.json')
    await writeFile(script, '{"turns": [{"steps": []}]}')
    const notJson = path.join(w.root, 'not-json.json')
    await writeFile(notJson, '{"turns": [')
    await checkAll(w, c, [
      [['run'], 64, /missing required argument 'prompt'/],
      [['run', ''], 64, /empty/],
      [['run', '   '], 64, /empty/],
      [['run', '--provider', 'skynet', 'x'], 64, /skynet/],
      [['run', '--demo-script', path.join(w.root, 'missing.json'), 'x'], 66, /missing\.json/],
      [['run', '--demo-script', script, 'x'], 78, /bad-script\.json: turns\.0\.steps/],
      [['run', '--demo-script', notJson, 'x'], 78, /not-json\.json is not valid JSON/],
      [['run', '--session', NO_SESSION, '--demo', 'x'], 66, new RegExp(NO_SESSION)],
      [['run', '--provider', 'anthropic', 'x'], 78, /ANTHROPIC_API_KEY/],
      [['chat', '--session'], 64, /--session/],
      [['chat', '--no-tui', '--demo', '--session', 'nope'], 64, /not a session id/],
      [['tui', '--attach'], 64, /--attach/],
      [['tui', '--attach', NO_SESSION, '--demo'], 66, new RegExp(NO_SESSION)],
    ])
  })

  gauntlet(backend, 'log, diff, revert: missing and invalid arguments', async (w, c) => {
    const id = await aSession(w)
    await checkAll(w, c, [
      [['log'], 64, /missing required argument 'session'/],
      [['log', 's-nope'], 64, /not a session id/],
      [['log', NO_SESSION], 66, new RegExp(NO_SESSION)],
      [['log', id, '-n', 'abc'], 64, /"abc"|abc/],
      [['log', id, '-n', '-2'], 64, /-2/],
      [['diff'], 64, /missing required argument 'session'/],
      [['diff', NO_SESSION], 66, new RegExp(NO_SESSION)],
      [['diff', id, 'deadbeef'], 66, /deadbeef/],
      [['diff', id, 'not a commit!'], 66, /not a commit/],
      [['revert'], 64, /missing required argument 'session'/],
      [['revert', id], 64, /missing required argument 'commit'/],
      [['revert', id, 'deadbeef'], 66, /deadbeef/],
      [['revert', NO_SESSION, 'deadbeef'], 66, new RegExp(NO_SESSION)],
    ])
  })

  gauntlet(backend, 'sync, discard, resume: missing and invalid arguments', async (w, c) => {
    const id = await aSession(w)
    await checkAll(w, c, [
      [['sync'], 64, /missing required argument 'session'/],
      [['sync', NO_SESSION], 66, new RegExp(NO_SESSION)],
      [['sync', id, '--only'], 64, /--only/],
      [['sync', '--undo', id], 66, /sync|undo/i],
      [['discard'], 64, /discard needs session ids or a filter/],
      [['discard', id], 64, /--yes/],
      [['discard', NO_SESSION, '--yes'], 66, new RegExp(NO_SESSION)],
      [['resume'], 64, /missing required argument 'session'/],
      [['resume', NO_SESSION], 66, new RegExp(NO_SESSION)],
      [['resume', 'x/../../y'], 64, /not a session id/],
    ])
  })

  gauntlet(
    backend,
    'a session id that does not exist, is malformed, or is an ambiguous prefix',
    async (w, c) => {
      const a = await aSession(w)
      const b = await aSession(w)
      const prefix = commonPrefix(a, b)
      await checkAll(w, c, [
        [['log', NO_SESSION], 66, /No session/],
        [['log', a.slice(0, -1)], 64, /not a session id/],
        [['log', prefix], 64, /not a session id/],
        [['log', a.toUpperCase()], 64, /not a session id/],
        [['log', `${a}/../${b}`], 64, /not a session id/],
        [['diff', ''], 64, /not a session id/],
      ])
      c.note(
        `ids are exact: the common prefix "${prefix}" of two sessions is refused as not a session id, with \`safe-coder sessions\` as the fix`,
      )
    },
  )

  for (const section of configSectionNames()) {
    const leaves = configLeaves().filter((l) => l.section === section)
    gauntlet(
      backend,
      `config [${section}]: every key with a wrong type, then out of range (${leaves.length} keys, from the schema)`,
      async (w, c) => {
        const failures: string[] = []
        const tried: { what: string; leaf: ConfigLeaf; bad: string; file: string }[] = []
        // The quick subset tries one wrong value per key (its type); the full run also its range.
        const kinds = [
          ['wrong type', wrongType],
          ['out of range', outOfRange],
        ] as const
        for (const [what, value] of QUICK ? kinds.slice(0, 1) : kinds) {
          for (const leaf of leaves) {
            const bad = value(leaf)
            if (bad === undefined) continue
            const file = path.join(w.root, `${section}-${tried.length}.toml`)
            await writeFile(file, `[${section}]\n${tomlKey(leaf.key)} = ${bad}\n`)
            tried.push({ what, leaf, bad, file })
          }
        }
        const results = await pool(tried, 3, (t) => w.cli(['config', 'show', '--config', t.file]))
        tried.forEach(({ what, leaf, bad }, i) => {
          try {
            expectCleanError(
              results[i] as CliResult,
              78,
              new RegExp(`\\[${section}\\] ${leaf.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
            )
          } catch (error) {
            failures.push(
              `${what} ${leaf.path} = ${bad}: ${error instanceof Error ? error.message.split('\n').slice(0, 4).join(' ') : String(error)}`,
            )
          }
        })
        c.note(
          `${tried.length - failures.length}/${tried.length} refused with exit 78 naming [${section}] key${QUICK ? ' (quick: wrong types only)' : ''}`,
        )
        expect(failures, failures.join('\n')).toEqual([])
      },
    )
  }

  gauntlet(backend, 'config files that are not valid TOML, JSON or YAML', async (w, c) => {
    const checks: [file: string, text: string, where: RegExp][] = [
      ['.safecoderrc.toml', '[docker\ncpus = 2\n', /line 1/],
      ['.safecoderrc.json', '{"docker": {"cpus": 2,}}', /\.safecoderrc\.json/],
      ['.safecoderrc.yaml', 'docker:\n  cpus: [1, 2\n', /\.safecoderrc\.yaml/],
      ['.safecoderrc', 'docker: {cpus: 2\n', /\.safecoderrc/],
      ['package.json', '{"name": "x", "safecoder": {"docker": ', /package\.json/],
    ]
    const failures: string[] = []
    for (const [name, text, where] of checks) {
      const dir = path.join(w.root, `cfg-${name.replace(/\W/g, '')}`)
      await mkdir(dir, { recursive: true })
      await writeFile(path.join(dir, name), text)
      const result = await w.cli(['config', 'show'], { cwd: dir })
      try {
        expectCleanError(result, 78, where)
      } catch (error) {
        failures.push(
          `${name}: ${error instanceof Error ? error.message.split('\n').slice(0, 3).join(' ') : String(error)}`,
        )
      }
    }
    // The user file and --config.
    await writeFile(path.join(w.home, '.config/safe-coder/config.toml'), 'docker = = 1\n')
    const user = await w.cli(['config', 'show'])
    try {
      expectCleanError(user, 78, /config\.toml/)
    } catch (error) {
      failures.push(
        `user config.toml: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      )
    }
    await writeFile(path.join(w.home, '.config/safe-coder/config.toml'), '')
    const explicit = path.join(w.root, 'explicit.json')
    await writeFile(explicit, '{{{')
    const flag = await w.cli(['config', 'show', '--config', explicit])
    try {
      expectCleanError(flag, 78, /explicit\.json/)
    } catch (error) {
      failures.push(
        `--config explicit.json: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      )
    }
    const missing = await w.cli(['config', 'show', '--config', path.join(w.root, 'nope.toml')])
    try {
      expectCleanError(missing, missing.exitCode === 66 ? 66 : 78, /nope\.toml/)
    } catch (error) {
      failures.push(
        `--config nope.toml: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      )
    }
    c.note(
      `${checks.length + 3 - failures.length}/${checks.length + 3}: TOML, JSON, YAML, .safecoderrc, package.json, the user file, --config (bad and missing)`,
    )
    await w.rebase()
    expect(failures, failures.join('\n')).toEqual([])
  })

  gauntlet(
    backend,
    'a project path that does not exist, is a file, is unreadable, or is /',
    async (w, c) => {
      const unreadable = path.join(w.root, 'locked')
      await mkdir(unreadable)
      await writeFile(path.join(unreadable, 'a.txt'), 'x\n')
      await chmod(unreadable, 0o000)
      const failures: string[] = []
      const attempt = async (
        what: string,
        args: string[],
        code: number | number[],
        names: RegExp,
        wrapper?: string[],
      ) => {
        const result = await w.cli(args, wrapper === undefined ? {} : { wrapper })
        try {
          expectCleanError(result, code, names)
        } catch (error) {
          failures.push(
            `${what}: ${error instanceof Error ? error.message.split('\n').slice(0, 6).join(' ') : String(error)}`,
          )
        }
        return result
      }
      await attempt(
        'missing',
        ['exec', '-p', path.join(w.root, 'nope'), '--', 'true'],
        66,
        /does not exist/,
      )
      await attempt(
        'a file',
        ['exec', '-p', path.join(w.project, 'hello.txt'), '--', 'true'],
        74,
        /not a directory/,
      )
      await attempt(
        'run on a missing path',
        ['run', '--demo', '-p', path.join(w.root, 'nope'), 'x'],
        66,
        /does not exist/,
      )
      // We are root: drop the capabilities that let root read anything, as an ordinary user would.
      const dropRoot = ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--']
      const locked = await attempt(
        'unreadable',
        ['exec', '-p', unreadable, '--', 'true'],
        74,
        /permission|EACCES|unreadable|cannot read/i,
        dropRoot,
      )
      c.note(`unreadable: "${locked.stderr.split('\n')[0]?.slice(0, 90) ?? ''}"`)
      const root = await attempt(
        '/',
        ['exec', '-p', '/', '--', 'true'],
        [65, 74],
        /"\/"|project \/[ .,]|whole file ?system|root directory/i,
      )
      c.note(`/: exit ${root.exitCode}, "${root.stderr.split('\n')[0]?.slice(0, 110) ?? ''}"`)
      await chmod(unreadable, 0o755)
      expect(failures, failures.join('\n')).toEqual([])
    },
  )

  gauntlet(backend, 'an image that does not exist', async (w, c) => {
    // A container's image by name; a VM's guest kernel by path (`[vm] kernel_image`).
    const vm = backend === 'qemu' || backend === 'firecracker'
    const config = path.join(w.root, 'missing-image.toml')
    await writeFile(config, '[vm]\nkernel_image = "/nonexistent/does-not-exist/vmlinux"\n')
    const result = vm
      ? await w.cli(['exec', '--config', config, '--', 'true'])
      : await w.cli(['exec', '--', 'true'], {
          env: { SAFE_CODER_IMAGE: 'safe-coder/does-not-exist:9.9.9' },
        })
    expectCleanError(result, 69, vm ? /does-not-exist\/vmlinux/ : /does-not-exist:9\.9\.9/)
    c.note(
      `exit 69: "${
        result.stderr
          .split('\n')
          .find((l) => l.startsWith('safe-coder: ') && !l.includes('WARNING'))
          ?.slice(0, 100) ?? ''
      }"`,
    )
    // The session it started holds the copy; nothing runs.
    for (const id of await w.sessionIds()) {
      const row = (await w.sessions()).sessions.find((s) => s.id === id)
      expect(row?.status).not.toBe('active')
    }
  })
})

function commonPrefix(a: string, b: string): string {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return a.slice(0, Math.max(2, i))
}
