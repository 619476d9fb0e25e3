import { z } from 'zod'
import { describe, expect, it } from 'vitest'
import { builtinTools, runTool, toolSpecs } from '../../../../src/agent/tools/index.js'
import { defineTool } from '../../../../src/agent/tools/outcome.js'
import type { Tool } from '../../../../src/agent/tools/types.js'
import { SafeCoderError, isSafeCoderError, type ErrorCode } from '../../../../src/shared/errors.js'
import { FakeSandbox, toolContext } from '../../../helpers/fake-sandbox.js'

function byName(name: string): Tool {
  const tool = builtinTools.find((t) => t.name === name)
  if (tool === undefined) throw new Error(`no tool ${name}`)
  return tool
}

/** A tool that throws `code`, to see what runTool makes of it. */
function throwing(code: ErrorCode): Tool {
  return defineTool({
    name: 'boom',
    description: 'throws',
    inputSchema: z.object({}),
    kind: 'read',
    describe: () => '',
    run: () => Promise.reject(new SafeCoderError(code, `failed with ${code}`, { hint: 'Do X.' })),
  })
}

describe('builtin tools', () => {
  it('are offered in a fixed order, each with a description from its .md file', () => {
    expect(builtinTools.map((t) => [t.name, t.kind])).toEqual([
      ['read_file', 'read'],
      ['write_file', 'write'],
      ['edit_file', 'write'],
      ['list_dir', 'read'],
      ['glob', 'read'],
      ['grep', 'read'],
      ['bash', 'exec'],
    ])
    for (const tool of builtinTools) {
      expect(tool.description.length).toBeGreaterThan(100)
      expect(tool.description).not.toMatch(/^\s|\s$/)
    }
    const specs = toolSpecs(builtinTools)
    expect(specs.map((s) => s.name)).toEqual(builtinTools.map((t) => t.name))
    expect(specs[0]?.inputSchema).toBe(builtinTools[0]?.inputSchema)
  })

  it('describe every field of their input for the model', () => {
    for (const tool of builtinTools) {
      const schema = z.toJSONSchema(tool.inputSchema) as {
        properties: Record<string, { description?: string }>
      }
      for (const [field, spec] of Object.entries(schema.properties)) {
        expect(spec.description, `${tool.name}.${field}`).toBeTruthy()
      }
    }
  })

  it('describe a call in one short line', () => {
    expect(byName('read_file').describe({ path: 'a.ts', offset: 10, limit: 5 })).toBe('a.ts:10+5')
    expect(byName('grep').describe({ pattern: 'x', path: 'src', glob: '*.ts' })).toBe(
      '"x" in src (*.ts)',
    )
    expect(byName('glob').describe({ pattern: '**/*.md' })).toBe('**/*.md')
    expect(byName('list_dir').describe({})).toBe('.')
  })
})

describe('runTool', () => {
  it('returns invalid arguments as an error listing each issue with its field', async () => {
    const ctx = toolContext(new FakeSandbox())
    const out = await runTool(byName('read_file'), { path: 3, offset: 0 }, ctx)
    expect(out.isError).toBe(true)
    expect(out.summary).toBe('invalid arguments')
    expect(out.changes).toEqual({ kind: 'none' })
    expect(out.output).toMatch(/^Invalid arguments for read_file:\n- path: .*\n- offset: .*\n/)
    const none = await runTool(byName('edit_file'), 'not an object', ctx)
    expect(none.output).toMatch(/- \(input\): /)
    const big = await runTool(byName('grep'), { pattern: 'x', max_results: 5000 }, ctx)
    expect(big.output).toMatch(/- max_results: /)
  })

  it('runs valid calls', async () => {
    const ctx = toolContext(new FakeSandbox({ 'a.txt': 'hi\n' }))
    expect(await runTool(byName('read_file'), { path: 'a.txt' }, ctx)).toMatchObject({
      output: '    1\thi',
      isError: false,
    })
  })

  it.each(['PATH_REJECTED', 'NOT_FOUND', 'TIMEOUT'] as const)(
    'turns %s into an error outcome with its hint',
    async (code) => {
      const out = await runTool(throwing(code), {}, toolContext(new FakeSandbox()))
      expect(out).toMatchObject({ isError: true, output: `failed with ${code} Do X.` })
    },
  )

  it.each(['SANDBOX_GONE', 'SANDBOX_FAILED', 'ABORTED', 'INTERNAL'] as const)(
    'rethrows %s',
    async (code) => {
      const error = await runTool(throwing(code), {}, toolContext(new FakeSandbox())).catch(
        (e: unknown) => e,
      )
      expect(isSafeCoderError(error, code)).toBe(true)
    },
  )

  it('rethrows errors that are not SafeCoderErrors', async () => {
    const sandbox = new FakeSandbox()
    sandbox.onExec = () => {
      throw new TypeError('bug')
    }
    await expect(runTool(byName('bash'), { command: 'x' }, toolContext(sandbox))).rejects.toThrow(
      'bug',
    )
  })

  it('truncates every output to maxOutputChars with a marker', async () => {
    const tool = defineTool({
      name: 'loud',
      description: 'prints a lot',
      inputSchema: z.object({}),
      kind: 'read',
      describe: () => '',
      run: () =>
        Promise.resolve({
          output: 'y'.repeat(50_000),
          isError: false,
          changes: { kind: 'none' },
          summary: 'loud',
        }),
    })
    const out = await runTool(tool, {}, toolContext(new FakeSandbox(), { maxOutputChars: 1000 }))
    expect(out.output.length).toBeLessThanOrEqual(1000)
    expect(out.output).toMatch(/… \[cut 49,\d{3} characters; narrow the request\]$/)
  })
})
