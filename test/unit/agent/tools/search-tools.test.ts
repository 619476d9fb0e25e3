import { describe, expect, it } from 'vitest'
import { globTool } from '../../../../src/agent/tools/glob.js'
import { grepTool } from '../../../../src/agent/tools/grep.js'
import type { ExecResult } from '../../../../src/sandbox/types.js'
import { isSafeCoderError } from '../../../../src/shared/errors.js'
import { FakeSandbox, toolContext } from '../../../helpers/fake-sandbox.js'

const GUARD = 'safe-coder-guard'

/**
 * Scripts `sandbox.exec` like the busybox image: answers the program probe, emulates the
 * path guard and `find` over the fake's files, and hands search commands to `search`.
 */
function script(
  sandbox: FakeSandbox,
  options: { rg?: boolean; search?: (argv: string[]) => Partial<ExecResult> } = {},
): void {
  sandbox.onExec = (argv, req) => {
    if (argv[2]?.includes('command -v') === true)
      return { stdout: options.rg === true ? 'rg\n' : '' }
    let command = argv
    if (argv[3] === GUARD) {
      const [target = '', kind = ''] = argv.slice(4, 6)
      const node = sandbox.nodes.get(
        `/workspace/${target.replace(/^\.\/?/, '')}`.replace(/\/$/, ''),
      )
      if (node === undefined) return { exitCode: 96 }
      if (node.kind === 'symlink') return { exitCode: 97 }
      if (kind === 'dir' && node.kind !== 'dir') return { exitCode: 98 }
      command = argv.slice(6)
    }
    if (command[0] === 'find' && command.at(-1) === '-print0')
      return { stdout: find(sandbox, command) }
    const answer = options.search?.(command)
    if (answer === undefined)
      throw new Error(
        `unexpected exec ${JSON.stringify(argv)} ${typeof req.stdin === 'string' ? req.stdin : ''}`,
      )
    return answer
  }
}

/** `find -H BASE [( -name A -o -name B ) -prune -o] ! -type d|-type f -print0` over the fake. */
function find(sandbox: FakeSandbox, argv: string[]): string {
  const base = argv[2] ?? '.'
  const pruned = argv.flatMap((arg, i) => (arg === '-name' ? [argv[i + 1] ?? ''] : []))
  const root = base === '.' ? '/workspace' : `/workspace/${base.slice(2)}`
  const found: string[] = []
  for (const [abs, node] of sandbox.nodes) {
    if (node.kind === 'dir' || !abs.startsWith(`${root}/`)) continue
    if (node.kind === 'symlink' && !argv.includes('!')) continue
    const rel = abs.slice('/workspace/'.length)
    if (rel.split('/').some((segment) => pruned.includes(segment))) continue
    found.push(`./${rel}\0`)
  }
  return found.reverse().join('')
}

function tree(): FakeSandbox {
  return new FakeSandbox({
    'src/index.ts': 'export {}\n',
    'src/util/math.ts': '',
    'src/util/math.test.ts': '',
    'src/view.tsx': '',
    'README.md': '',
    'package.json': '{}',
    '.env': 'A=1',
    'node_modules/lib/index.ts': '',
    '.git/config': '',
    'test/a.test.ts': '',
  })
}

describe('glob', () => {
  it('matches paths under the root, sorted, skipping .git and node_modules', async () => {
    const sandbox = tree()
    script(sandbox)
    const ctx = toolContext(sandbox)
    const ts = await globTool.run({ pattern: 'src/**/*.ts' }, ctx)
    expect(ts.output).toBe('src/index.ts\nsrc/util/math.test.ts\nsrc/util/math.ts')
    expect(ts).toMatchObject({ isError: false, changes: { kind: 'none' }, summary: '3 files' })
    expect((await globTool.run({ pattern: '*.{md,json}' }, ctx)).output).toBe(
      'README.md\npackage.json',
    )
    expect((await globTool.run({ pattern: '**/*.test.ts' }, ctx)).output).toBe(
      'src/util/math.test.ts\ntest/a.test.ts',
    )
    expect((await globTool.run({ pattern: '.*' }, ctx)).output).toBe('.env')
    const find = sandbox.execs.find((e) => e.argv.includes('find'))?.argv ?? []
    expect(find.slice(3)).toEqual([
      GUARD,
      '.',
      'dir',
      'find',
      '-H',
      '.',
      '(',
      '-name',
      '.git',
      '-o',
      '-name',
      'node_modules',
      ')',
      '-prune',
      '-o',
      '!',
      '-type',
      'd',
      '-print0',
    ])
  })

  it('searches below `path`, matching relative to it, and looks into node_modules when asked', async () => {
    const sandbox = tree()
    script(sandbox)
    const ctx = toolContext(sandbox)
    const util = await globTool.run({ pattern: '*.ts', path: 'src/util' }, ctx)
    expect(util.output).toBe('src/util/math.test.ts\nsrc/util/math.ts')
    expect(util.summary).toBe('2 files in src/util')
    expect(sandbox.execs.at(-1)?.argv.slice(4, 10)).toEqual([
      './src/util',
      'dir',
      'find',
      '-H',
      './src/util',
      '(',
    ])
    const nm = await globTool.run({ pattern: 'node_modules/**/*.ts' }, ctx)
    expect(nm.output).toBe('node_modules/lib/index.ts')
    expect(sandbox.execs.at(-1)?.argv).not.toContain('node_modules')
  })

  it('reports no matches, and caps long results', async () => {
    const sandbox = new FakeSandbox()
    for (let i = 0; i < 520; i++) sandbox.addFile(`f/${String(i).padStart(3, '0')}.txt`, '')
    script(sandbox)
    const ctx = toolContext(sandbox)
    expect((await globTool.run({ pattern: '*.rs' }, ctx)).output).toBe('No files match "*.rs".')
    const many = await globTool.run({ pattern: 'f/*' }, ctx)
    const lines = many.output.split('\n')
    expect(lines).toHaveLength(501)
    expect(lines[0]).toBe('f/000.txt')
    expect(lines.at(-1)).toBe('… [20 more files; narrow the pattern or the path]')
    expect(many.summary).toBe('520 files')
  })

  it('turns guard refusals into errors and never runs for paths outside', async () => {
    const sandbox = tree()
    sandbox.addSymlink('etc', '/etc')
    script(sandbox)
    const ctx = toolContext(sandbox)
    const missing = await globTool.run({ pattern: '*', path: 'nope' }, ctx)
    expect(missing.isError).toBe(true)
    expect(missing.output).toMatch(/"nope" does not exist/)
    const link = await globTool.run({ pattern: '*', path: 'etc' }, ctx)
    expect(link.isError).toBe(true)
    expect(link.output).toMatch(/symlink on it leads out/)
    const file = await globTool.run({ pattern: '*', path: 'README.md' }, ctx)
    expect(file.isError).toBe(true)
    expect(file.output).toMatch(/not a directory/)
    const before = sandbox.execs.length
    for (const bad of ['/etc', '../..', 'a/../../b']) {
      expect(await globTool.run({ pattern: '*', path: bad }, ctx)).toMatchObject({ isError: true })
    }
    expect(sandbox.execs).toHaveLength(before)
  })
})

describe('grep', () => {
  it('runs ripgrep with the pattern as one argv element and formats sorted matches', async () => {
    const sandbox = tree()
    const seen: string[][] = []
    script(sandbox, {
      rg: true,
      search: (argv) => {
        seen.push(argv)
        return { stdout: './src/b.ts:3:  two\n./src/a.ts:10:ten\n./src/a.ts:2:two:x\n' }
      },
    })
    const ctx = toolContext(sandbox)
    const pattern = '$(touch /tmp/pwned) "\'; a|b'
    const out = await grepTool.run({ pattern, path: 'src', ignore_case: true }, ctx)
    expect(out.output).toBe(
      'src/a.ts:2: two:x\nsrc/a.ts:10: ten\nsrc/b.ts:3:   two\n\n3 matches in 2 files',
    )
    expect(out).toMatchObject({ isError: false, summary: '3 matches', changes: { kind: 'none' } })
    const argv = seen[0] ?? []
    expect(argv[0]).toBe('rg')
    expect(argv).toContain('-i')
    expect(argv.slice(-4)).toEqual(['-e', pattern, '--', './src'])
    expect(argv.join(' ')).toContain('--glob !.git --glob !node_modules')
    // The program probe is asked once per sandbox.
    await grepTool.run({ pattern: 'x' }, ctx)
    expect(sandbox.execs.filter((e) => e.argv[2]?.includes('command -v'))).toHaveLength(1)
  })

  it('falls back to find + grep -nHE (busybox flags) without ripgrep', async () => {
    const sandbox = tree()
    const seen: string[][] = []
    script(sandbox, {
      search: (argv) => {
        seen.push(argv)
        return { stdout: './README.md:1:hello\nBinary file ./x.bin matches\n' }
      },
    })
    const out = await grepTool.run({ pattern: 'hel+o' }, toolContext(sandbox))
    expect(out.output).toBe('README.md:1: hello\n\n1 match in 1 file')
    expect(seen[0]).toEqual([
      'find',
      '-H',
      '.',
      '(',
      '-name',
      '.git',
      '-o',
      '-name',
      'node_modules',
      ')',
      '-prune',
      '-o',
      '-type',
      'f',
      '-exec',
      'grep',
      '-n',
      '-H',
      '-E',
      '-e',
      'hel+o',
      '--',
      '{}',
      '+',
    ])
  })

  it('treats exit 1 as no matches, and reports what a failed search said', async () => {
    const sandbox = tree()
    let answer: Partial<ExecResult> = { exitCode: 1 }
    script(sandbox, { rg: true, search: () => answer })
    const ctx = toolContext(sandbox)
    expect(await grepTool.run({ pattern: 'zzz' }, ctx)).toMatchObject({
      output: 'No matches.',
      isError: false,
      summary: 'no matches',
    })
    answer = { exitCode: 2, stderr: 'regex parse error:\n    a(\n     ^\nerror: unclosed group\n' }
    const bad = await grepTool.run({ pattern: 'a(' }, ctx)
    expect(bad.isError).toBe(true)
    expect(bad.output).toMatch(/^No matches; the search reported:\nregex parse error/)
  })

  it('caps results at max_results and says how to see more', async () => {
    const sandbox = tree()
    const stdout = Array.from({ length: 30 }, (_, i) => `./a.txt:${i + 1}:hit\n`).join('')
    script(sandbox, { rg: true, search: () => ({ stdout }) })
    const out = await grepTool.run({ pattern: 'hit', max_results: 5 }, toolContext(sandbox))
    expect(out.output.split('\n').slice(0, 5)).toEqual(
      [1, 2, 3, 4, 5].map((n) => `a.txt:${n}: hit`),
    )
    expect(out.output).toMatch(
      /30 matches in 1 file; showing the first 5: narrow the pattern, path or glob, or raise max_results\.$/,
    )
    expect(out.summary).toBe('30 matches')
  })

  it('with a glob, lists regular files, filters them here and passes them on stdin to xargs', async () => {
    const sandbox = tree()
    sandbox.addSymlink('src/passwd.ts', '/etc/passwd')
    const seen: { argv: string[] }[] = []
    script(sandbox, {
      search: (argv) => {
        seen.push({ argv })
        return { stdout: './src/index.ts:1:export {}\n' }
      },
    })
    const ctx = toolContext(sandbox)
    const out = await grepTool.run({ pattern: 'export', glob: '*.{ts,tsx}', path: 'src' }, ctx)
    expect(out.output).toMatch(/^src\/index.ts:1: export \{\}/)
    expect(seen[0]?.argv).toEqual(['xargs', '-0', 'grep', '-n', '-H', '-E', '-e', 'export', '--'])
    expect(sandbox.execs.at(-1)?.req.stdin).toBe(
      'src/index.ts\0src/util/math.test.ts\0src/util/math.ts\0src/view.tsx\0',
    )
    await grepTool.run({ pattern: 'x', glob: 'util/*.test.ts', path: 'src' }, ctx)
    expect(sandbox.execs.at(-1)?.req.stdin).toBe('src/util/math.test.ts\0')
    const none = await grepTool.run({ pattern: 'x', glob: '*.rs' }, ctx)
    expect(none).toMatchObject({ isError: true, output: 'No files match the glob "*.rs".' })
  })

  it('reports a timeout as a tool error and throws when cancelled', async () => {
    const sandbox = tree()
    let answer: Partial<ExecResult> = { timedOut: true, exitCode: null }
    script(sandbox, { rg: true, search: () => answer })
    const ctx = toolContext(sandbox)
    const slow = await grepTool.run({ pattern: 'x' }, ctx)
    expect(slow).toMatchObject({ isError: true, summary: 'timed out' })
    expect(slow.output).toMatch(/longer than 60 s.*Narrow it/)
    answer = { aborted: true, exitCode: null }
    const error = await grepTool.run({ pattern: 'x' }, ctx).catch((e: unknown) => e)
    expect(isSafeCoderError(error, 'ABORTED')).toBe(true)
  })
})
