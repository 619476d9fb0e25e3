import { describe, expect, it } from 'vitest'
import { editFileTool } from '../../../../src/agent/tools/edit-file.js'
import { listDirTool } from '../../../../src/agent/tools/list-dir.js'
import { readFileTool } from '../../../../src/agent/tools/read-file.js'
import { writeFileTool } from '../../../../src/agent/tools/write-file.js'
import { diskFullError, sandboxDiskFull } from '../../../../src/sandbox/disk/index.js'
import { dockerDiskLimits } from '../../../../src/sandbox/docker/disk-limits.js'
import { asError } from '../../../../src/shared/errors.js'
import { FakeSandbox, toolContext } from '../../../helpers/fake-sandbox.js'
import { testBackendOptions } from '../../../helpers/sandbox.js'

const lines = (n: number): string =>
  Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n') + '\n'

describe('read_file', () => {
  it('numbers the lines and says how many there are', async () => {
    const sandbox = new FakeSandbox({ 'src/a.ts': 'one\ntwo\n' })
    const out = await readFileTool.run({ path: 'src/a.ts' }, toolContext(sandbox))
    expect(out).toEqual({
      output: '    1\tone\n    2\ttwo',
      isError: false,
      changes: { kind: 'none' },
      summary: 'read src/a.ts (2 lines)',
    })
  })

  it('reads a window and says how to continue', async () => {
    const sandbox = new FakeSandbox({ 'big.txt': lines(50) })
    const out = await readFileTool.run(
      { path: 'big.txt', offset: 10, limit: 3 },
      toolContext(sandbox),
    )
    expect(out.output).toBe(
      '   10\tline 10\n   11\tline 11\n   12\tline 12\n(lines 10-12 of 50; continue with offset 13)',
    )
    expect(out.summary).toBe('read big.txt (lines 10-12 of 50)')
    const tail = await readFileTool.run({ path: 'big.txt', offset: 49 }, toolContext(sandbox))
    expect(tail.output).toBe('   49\tline 49\n   50\tline 50\n(lines 49-50 of 50)')
  })

  it('cuts at a line boundary when the output budget runs out', async () => {
    const sandbox = new FakeSandbox({ 'big.txt': lines(5000) })
    const out = await readFileTool.run(
      { path: 'big.txt' },
      toolContext(sandbox, { maxOutputChars: 1000 }),
    )
    expect(out.output.length).toBeLessThanOrEqual(1000)
    expect(out.output).toMatch(/\n\(lines 1-(\d+) of 5000; continue with offset (\d+)\)$/)
    const [, end, next] = /lines 1-(\d+) .* offset (\d+)/.exec(out.output) ?? []
    expect(Number(next)).toBe(Number(end) + 1)
  })

  it('shows 2000 lines by default and cuts very long lines', async () => {
    const sandbox = new FakeSandbox({ 'big.txt': lines(3000), 'min.js': `${'x'.repeat(5000)}\n` })
    const ctx = toolContext(sandbox, { maxOutputChars: 1_000_000 })
    const out = await readFileTool.run({ path: 'big.txt' }, ctx)
    expect(out.output).toMatch(/\(lines 1-2000 of 3000; continue with offset 2001\)$/)
    const min = await readFileTool.run({ path: 'min.js' }, ctx)
    expect(min.output).toMatch(/^ {4}1\tx{2000}… \[line cut\]$/)
  })

  it('reports binary and empty files instead of dumping them', async () => {
    const sandbox = new FakeSandbox({ 'empty.txt': '' })
    sandbox.addFile('img.png', new Uint8Array([0x89, 0x50, 0, 1, 2]))
    sandbox.addFile('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]))
    const ctx = toolContext(sandbox)
    const img = await readFileTool.run({ path: 'img.png' }, ctx)
    expect(img.output).toMatch(/^img\.png is a binary file \(5 B\); it is not shown/)
    expect(img.isError).toBe(false)
    expect((await readFileTool.run({ path: 'latin1.txt' }, ctx)).output).toMatch(/binary file/)
    expect((await readFileTool.run({ path: 'empty.txt' }, ctx)).output).toBe('empty.txt is empty.')
  })

  it('returns errors for a missing file, a directory, an offset past the end, and bad paths', async () => {
    const sandbox = new FakeSandbox({ 'dir/a.txt': 'a\n' })
    sandbox.addSymlink('out', '/etc/passwd')
    const ctx = toolContext(sandbox)
    const missing = await readFileTool.run({ path: 'nope.txt' }, ctx)
    expect(missing).toMatchObject({ isError: true, summary: 'not found' })
    expect(missing.output).toMatch(/"nope.txt".*no such file.*list_dir or glob/)
    const dir = await readFileTool.run({ path: 'dir' }, ctx)
    expect(dir.isError).toBe(true)
    expect(dir.output).toMatch(/not a regular file/)
    const past = await readFileTool.run({ path: 'dir/a.txt', offset: 5 }, ctx)
    expect(past).toMatchObject({ isError: true })
    expect(past.output).toBe('offset 5 is past the end of dir/a.txt, which has 1 line.')
    const link = await readFileTool.run({ path: 'out' }, ctx)
    expect(link).toMatchObject({ isError: true, summary: 'path refused' })
    expect(link.output).toMatch(/outside \/workspace/)
    for (const bad of ['/etc/shadow', '../../x', 'a/../../b']) {
      const out = await readFileTool.run({ path: bad }, ctx)
      expect(out.isError).toBe(true)
      expect(out.output).toContain(JSON.stringify(bad))
      expect(out.output).toMatch(/relative to the project root/)
    }
  })

  it('accepts /workspace/ paths', async () => {
    const sandbox = new FakeSandbox({ 'x.txt': 'hi\n' })
    const out = await readFileTool.run({ path: '/workspace/x.txt' }, toolContext(sandbox))
    expect(out.output).toBe('    1\thi')
  })
})

describe('write_file', () => {
  it('creates files and their parents, reporting the path as changed', async () => {
    const sandbox = new FakeSandbox()
    const ctx = toolContext(sandbox)
    const out = await writeFileTool.run({ path: 'src/new/a.ts', content: 'a\nb\n' }, ctx)
    expect(out).toEqual({
      output: 'Wrote src/new/a.ts (2 lines).',
      isError: false,
      changes: { kind: 'paths', paths: ['src/new/a.ts'] },
      summary: 'wrote src/new/a.ts (2 lines)',
    })
    expect(sandbox.text('src/new/a.ts')).toBe('a\nb\n')
    const again = await writeFileTool.run({ path: '/workspace/src/new/a.ts', content: 'c' }, ctx)
    expect(again.changes).toEqual({ kind: 'paths', paths: ['src/new/a.ts'] })
    expect(again.summary).toBe('wrote src/new/a.ts (1 line)')
    expect(sandbox.text('src/new/a.ts')).toBe('c')
  })

  it("tells the model when the sandbox's own disk is full; a full host disk ends the turn", async () => {
    const limits = await dockerDiskLimits(testBackendOptions(), 'read-only', { mib: 64 })
    const full = diskFullError('Cannot write "big" in the sandbox', 'ENOSPC', { path: 'big' })
    const sandbox = new FakeSandbox()
    const ctx = toolContext(sandbox)
    sandbox.writeFile = () => Promise.reject(asError(sandboxDiskFull(full, limits)))
    const out = await writeFileTool.run({ path: 'big', content: 'x' }, ctx)
    expect(out).toMatchObject({ isError: true, summary: 'disk full', changes: { kind: 'none' } })
    expect(out.output).toMatch(/own disk is full.*raise \[docker\] disk_mb/s)
    sandbox.writeFile = () => Promise.reject(full)
    await expect(writeFileTool.run({ path: 'big', content: 'x' }, ctx)).rejects.toThrow(
      /the disk is full \(ENOSPC\)/,
    )
  })

  it('refuses paths outside the project and writes through no symlink that leads out', async () => {
    const sandbox = new FakeSandbox()
    sandbox.addSymlink('etc', '/etc')
    const ctx = toolContext(sandbox)
    for (const bad of ['/etc/passwd', '../x', 'etc/passwd']) {
      const out = await writeFileTool.run({ path: bad, content: 'x' }, ctx)
      expect(out).toMatchObject({ isError: true, changes: { kind: 'none' } })
    }
    expect(await writeFileTool.run({ path: '.', content: 'x' }, ctx)).toMatchObject({
      isError: true,
    })
    expect([...sandbox.nodes.keys()].sort()).toEqual(['/workspace', '/workspace/etc'])
  })
})

describe('edit_file', () => {
  it('replaces one exact match, keeps the mode and shows the edited lines', async () => {
    const sandbox = new FakeSandbox()
    sandbox.addFile('run.sh', '#!/bin/sh\necho one\necho two\necho three\n', 0o755)
    const out = await editFileTool.run(
      { path: 'run.sh', old_string: 'echo two', new_string: 'echo 2\necho 2b' },
      toolContext(sandbox),
    )
    expect(out.output).toBe(
      'Edited run.sh: replaced 1 occurrence.\n' +
        '    1\t#!/bin/sh\n    2\techo one\n    3\techo 2\n    4\techo 2b\n    5\techo three',
    )
    expect(out).toMatchObject({ isError: false, changes: { kind: 'paths', paths: ['run.sh'] } })
    expect(out.summary).toBe('edited run.sh')
    expect(sandbox.text('run.sh')).toBe('#!/bin/sh\necho one\necho 2\necho 2b\necho three\n')
    expect(sandbox.nodes.get('/workspace/run.sh')).toMatchObject({ mode: 0o755 })
  })

  it('refuses ambiguous matches unless replace_all, and replaces literally', async () => {
    const sandbox = new FakeSandbox({ 'a.txt': 'x = 1\nx = 1\nx = 1\n' })
    const ctx = toolContext(sandbox)
    const ambiguous = await editFileTool.run(
      { path: 'a.txt', old_string: 'x = 1', new_string: 'y = $&' },
      ctx,
    )
    expect(ambiguous).toMatchObject({ isError: true, changes: { kind: 'none' } })
    expect(ambiguous.output).toBe(
      'old_string found 3 times in a.txt; add surrounding context to make it unique or set replace_all.',
    )
    const all = await editFileTool.run(
      { path: 'a.txt', old_string: 'x = 1', new_string: 'y = $&', replace_all: true },
      ctx,
    )
    expect(all.output).toMatch(/^Edited a.txt: replaced 3 occurrences\./)
    expect(sandbox.text('a.txt')).toBe('y = $&\ny = $&\ny = $&\n')
  })

  it('says clearly when the file or the text is missing, or the edit is empty', async () => {
    const sandbox = new FakeSandbox({ 'a.txt': 'hello\n' })
    sandbox.addDir('dir')
    sandbox.addSymlink('link.txt', 'a.txt')
    const ctx = toolContext(sandbox)
    const run = (path: string, old_string: string, new_string = 'x') =>
      editFileTool.run({ path, old_string, new_string }, ctx)
    expect((await run('a.txt', 'goodbye')).output).toBe(
      'old_string not found in a.txt; read the file first and copy the exact text, whitespace and indentation included.',
    )
    expect((await run('nope.txt', 'a')).output).toBe(
      'nope.txt does not exist. To create it use write_file.',
    )
    expect((await run('dir', 'a')).output).toBe('dir is a directory, not a file.')
    expect((await run('link.txt', 'hello')).output).toMatch(/symlink/)
    expect((await run('a.txt', '')).output).toMatch(/old_string is empty/)
    expect((await run('a.txt', 'hello', 'hello')).output).toMatch(/identical/)
    expect((await run('../a.txt', 'hello')).output).toMatch(/refused/)
    for (const name of ['a.txt', 'nope.txt', 'dir', 'link.txt']) {
      expect((await run(name, 'zzz')).isError).toBe(true)
    }
    expect(sandbox.text('a.txt')).toBe('hello\n')
  })

  it('matches across CRLF line endings the model did not reproduce', async () => {
    const sandbox = new FakeSandbox({ 'w.txt': 'a\r\nb\r\nc\r\n' })
    const out = await editFileTool.run(
      { path: 'w.txt', old_string: 'a\nb', new_string: 'A\nB' },
      toolContext(sandbox),
    )
    expect(out.isError).toBe(false)
    expect(sandbox.text('w.txt')).toBe('A\r\nB\r\nc\r\n')
  })
})

describe('list_dir', () => {
  it('lists sorted entries with kind markers and link targets', async () => {
    const sandbox = new FakeSandbox({ 'b.txt': 'hello', 'src/x.ts': '' })
    sandbox.addSymlink('a-link', 'src/x.ts')
    sandbox.addSymlink('pw', '/etc/passwd')
    sandbox.onExec = (argv) => {
      expect(argv.slice(3)).toEqual(['safe-coder-readlink', './a-link', './pw'])
      return { stdout: 'src/x.ts\0/etc/passwd\0' }
    }
    const out = await listDirTool.run({}, toolContext(sandbox))
    expect(out.output).toBe(
      '. (4 entries)\na-link -> src/x.ts\nb.txt  5 B\npw -> /etc/passwd\nsrc/',
    )
    expect(out.summary).toBe('listed . (4 entries)')
    expect(sandbox.execs).toHaveLength(1)
    const sub = await listDirTool.run({ path: 'src' }, toolContext(sandbox))
    expect(sub.output).toBe('src/ (1 entry)\nx.ts  0 B')
    expect(sandbox.execs).toHaveLength(1)
  })

  it('caps huge directories and reports errors', async () => {
    const sandbox = new FakeSandbox()
    for (let i = 0; i < 600; i++) sandbox.addFile(`many/f${String(i).padStart(3, '0')}`, '')
    sandbox.addFile('file.txt', '')
    sandbox.addDir('empty')
    const ctx = toolContext(sandbox)
    const out = await listDirTool.run({ path: 'many' }, ctx)
    expect(out.output.split('\n')).toHaveLength(502)
    expect(out.output).toMatch(/\n… 100 more entries; use glob to narrow it down$/)
    expect((await listDirTool.run({ path: 'empty' }, ctx)).output).toBe('empty/ (empty)')
    expect(await listDirTool.run({ path: 'file.txt' }, ctx)).toMatchObject({ isError: true })
    expect(await listDirTool.run({ path: 'nope' }, ctx)).toMatchObject({ isError: true })
    expect(await listDirTool.run({ path: '/etc' }, ctx)).toMatchObject({ isError: true })
  })
})
