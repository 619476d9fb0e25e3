import { lstat, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { builtinTools, runTool } from '../../src/agent/tools/index.js'
import type { Tool, ToolContext, ToolOutcome } from '../../src/agent/tools/types.js'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { toolContext } from '../helpers/fake-sandbox.js'
import { createTestSandbox } from '../helpers/sandbox.js'

function call(ctx: ToolContext, name: string, input: unknown): Promise<ToolOutcome> {
  const tool: Tool | undefined = builtinTools.find((t) => t.name === name)
  if (tool === undefined) throw new Error(`no tool ${name}`)
  return runTool(tool, input, ctx)
}

describe('agent tools in a real Docker sandbox', () => {
  it('write → read → edit → list → glob → grep → bash', async () => {
    const { sandbox, mirror } = await createTestSandbox()
    const ctx = toolContext(sandbox, { bashTimeoutMs: 20_000 })

    const wrote = await call(ctx, 'write_file', {
      path: 'src/util/math.ts',
      content: 'export const add = (a: number, b: number) => a + b\nexport const one = 1\n',
    })
    expect(wrote).toMatchObject({ isError: false, summary: 'wrote src/util/math.ts (2 lines)' })
    expect(wrote.changes).toEqual({ kind: 'paths', paths: ['src/util/math.ts'] })
    await call(ctx, 'write_file', { path: 'src/index.ts', content: "import './util/math'\n" })
    await call(ctx, 'write_file', { path: 'README.md', content: '# Demo\nadd things\n' })
    await call(ctx, 'write_file', { path: 'node_modules/dep/index.ts', content: 'add\n' })
    await call(ctx, 'bash', { command: 'chmod 755 src/index.ts' })

    const read = await call(ctx, 'read_file', { path: '/workspace/src/util/math.ts' })
    expect(read.output).toBe(
      '    1\texport const add = (a: number, b: number) => a + b\n    2\texport const one = 1',
    )
    const part = await call(ctx, 'read_file', { path: 'src/util/math.ts', offset: 2 })
    expect(part.output).toBe('    2\texport const one = 1\n(lines 2-2 of 2)')

    const edited = await call(ctx, 'edit_file', {
      path: 'src/index.ts',
      old_string: "import './util/math'",
      new_string: "import { add } from './util/math'\nconsole.log(add(1, 2))",
    })
    expect(edited).toMatchObject({ isError: false, summary: 'edited src/index.ts' })
    expect(edited.output).toContain('    2\tconsole.log(add(1, 2))')
    expect(await readFile(path.join(mirror, 'src/index.ts'), 'utf8')).toBe(
      "import { add } from './util/math'\nconsole.log(add(1, 2))\n",
    )
    expect((await stat(path.join(mirror, 'src/index.ts'))).mode & 0o777).toBe(0o755)

    await symlink('util/math.ts', path.join(mirror, 'src/math-link.ts'))
    const listed = await call(ctx, 'list_dir', { path: 'src' })
    expect(listed.output).toBe(
      'src/ (3 entries)\nindex.ts  57 B\nmath-link.ts -> util/math.ts\nutil/',
    )
    expect((await call(ctx, 'list_dir', {})).output).toBe(
      '. (3 entries)\nREADME.md  18 B\nnode_modules/\nsrc/',
    )

    expect((await call(ctx, 'glob', { pattern: '**/*.ts' })).output).toBe(
      'src/index.ts\nsrc/math-link.ts\nsrc/util/math.ts',
    )
    expect((await call(ctx, 'glob', { pattern: '*.{md,json}' })).output).toBe('README.md')
    expect((await call(ctx, 'glob', { pattern: 'node_modules/**' })).output).toBe(
      'node_modules/dep/index.ts',
    )

    const grep = await call(ctx, 'grep', { pattern: 'add\\(|ADD T', ignore_case: true })
    expect(grep.output).toBe(
      'README.md:2: add things\nsrc/index.ts:2: console.log(add(1, 2))\n\n2 matches in 2 files',
    )
    const grepGlob = await call(ctx, 'grep', { pattern: 'add', glob: '*.ts', path: 'src' })
    expect(grepGlob.output).toMatch(/^src\/index.ts:1: import \{ add \}/)
    expect(grepGlob.output).toContain('src/util/math.ts:1: export const add')
    expect(await call(ctx, 'grep', { pattern: 'nothing-here' })).toMatchObject({
      output: 'No matches.',
      isError: false,
    })
    const badRegex = await call(ctx, 'grep', { pattern: 'a(' })
    expect(badRegex.isError).toBe(true)

    const ok = await call(ctx, 'bash', { command: 'echo out; echo err >&2; exit 3' })
    expect(ok).toMatchObject({
      output: 'out\nerr\nexit code 3',
      isError: false,
      changes: { kind: 'scan' },
      exitCode: 3,
    })
    expect(ok.summary).toMatch(/^exit 3 in /)
    const pwd = await call(ctx, 'bash', { command: 'pwd; touch made-by-bash' })
    expect(pwd.output).toBe('/workspace\nexit code 0')
    expect((await lstat(path.join(mirror, 'made-by-bash'))).isFile()).toBe(true)
  })

  it('kills a command at its timeout', async () => {
    const { sandbox } = await createTestSandbox()
    const ctx = toolContext(sandbox, { bashTimeoutMs: 20_000 })
    const started = performance.now()
    const slow = await call(ctx, 'bash', { command: 'echo begun; sleep 30', timeout_s: 1 })
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(slow.isError).toBe(true)
    expect(slow.output).toMatch(
      /^begun\nexit code .*\ntimed out after 1 s; the command was killed$/,
    )
    expect((await call(ctx, 'bash', { command: 'ps' })).output).not.toContain('sleep 30')
  })

  it('reports ambiguous and missing edits as errors and changes nothing', async () => {
    const { sandbox, mirror } = await createTestSandbox()
    const ctx = toolContext(sandbox)
    await writeFile(path.join(mirror, 'dup.txt'), 'x\nx\n')
    const ambiguous = await call(ctx, 'edit_file', {
      path: 'dup.txt',
      old_string: 'x',
      new_string: 'y',
    })
    expect(ambiguous).toMatchObject({ isError: true, changes: { kind: 'none' } })
    expect(ambiguous.output).toMatch(/found 2 times in dup.txt/)
    const missing = await call(ctx, 'edit_file', { path: 'nope', old_string: 'x', new_string: 'y' })
    expect(missing.isError).toBe(true)
    expect(await readFile(path.join(mirror, 'dup.txt'), 'utf8')).toBe('x\nx\n')
  })

  it('refuses paths that lead out, and a planted symlink to /etc/passwd, without touching the host', async () => {
    const { sandbox, mirror } = await createTestSandbox()
    const ctx = toolContext(sandbox)
    const hostPasswd = await readFile('/etc/passwd', 'utf8')
    await symlink('/etc/passwd', path.join(mirror, 'passwd'))
    await symlink('/etc', path.join(mirror, 'etc'))

    const reads = [
      await call(ctx, 'read_file', { path: 'passwd' }),
      await call(ctx, 'read_file', { path: 'etc/passwd' }),
      await call(ctx, 'read_file', { path: '../../x' }),
      await call(ctx, 'read_file', { path: '/etc/shadow' }),
      await call(ctx, 'list_dir', { path: 'etc' }),
      await call(ctx, 'glob', { pattern: '*', path: 'etc' }),
      await call(ctx, 'grep', { pattern: 'root', path: 'etc' }),
      await call(ctx, 'grep', { pattern: 'root', path: '/etc' }),
      await call(ctx, 'edit_file', { path: 'passwd', old_string: 'root', new_string: 'toor' }),
      await call(ctx, 'write_file', { path: 'etc/passwd', content: 'owned' }),
      await call(ctx, 'write_file', { path: '../../x', content: 'owned' }),
      await call(ctx, 'write_file', { path: '/etc/shadow', content: 'owned' }),
    ]
    for (const outcome of reads) {
      expect(outcome.isError, outcome.output).toBe(true)
      expect(outcome.output).not.toContain('root:')
    }
    expect(reads[2]?.output).toMatch(/"\.\.\/\.\.\/x" was refused.*relative to the project root/)
    expect(reads[3]?.output).toMatch(/"\/etc\/shadow" was refused/)
    // write_file on the link itself replaces the link; it never writes through it.
    const replaced = await call(ctx, 'write_file', { path: 'passwd', content: 'mine\n' })
    expect(replaced.isError).toBe(false)
    expect((await lstat(path.join(mirror, 'passwd'))).isSymbolicLink()).toBe(false)
    expect(await readlink(path.join(mirror, 'etc'))).toBe('/etc')
    expect(await readFile('/etc/passwd', 'utf8')).toBe(hostPasswd)
  })

  it('uses ripgrep and bash where the image has them (the default sandbox image)', async () => {
    const { sandbox, mirror } = await createTestSandbox({ backend: { image: SANDBOX_IMAGE } })
    const ctx = toolContext(sandbox)
    const files: Record<string, string> = {
      '.gitignore': 'dist/\n',
      'dist/out.js': 'needle\n',
      'node_modules/dep/a.js': 'needle\n',
      '.github/ci.yml': 'run: needle\n',
      'src/a.ts': 'const x = 1\nconst needle = 2\n',
      'src/b.js': 'needle()\n',
    }
    for (const [name, content] of Object.entries(files)) {
      await call(ctx, 'write_file', { path: name, content })
    }
    await symlink('/etc/passwd', path.join(mirror, 'src/passwd'))
    const all = await call(ctx, 'grep', { pattern: 'NEEDLE', ignore_case: true })
    expect(all.output).toBe(
      '.github/ci.yml:1: run: needle\nsrc/a.ts:2: const needle = 2\nsrc/b.js:1: needle()\n\n' +
        '3 matches in 3 files',
    )
    const ts = await call(ctx, 'grep', { pattern: 'needle', glob: '*.ts' })
    expect(ts.output).toBe('src/a.ts:2: const needle = 2\n\n1 match in 1 file')
    const bad = await call(ctx, 'grep', { pattern: 'a(' })
    expect(bad).toMatchObject({ isError: true })
    expect(bad.output).toMatch(/regex parse error/)
    expect((await call(ctx, 'grep', { pattern: 'root', path: 'src/passwd' })).isError).toBe(true)
    const shell = await call(ctx, 'bash', { command: 'echo "${BASH_VERSION:+bash}"' })
    expect(shell.output).toBe('bash\nexit code 0')
  })
})
