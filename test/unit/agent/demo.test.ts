import { describe, expect, it } from 'vitest'
import { builtinDemoStep, pickFile, planEdit } from '../../../src/agent/provider/demo-scenario.js'
import { parseDemoScript } from '../../../src/agent/provider/demo-script.js'

describe('the built-in demo scenario', () => {
  const view = (results: { toolName: string; output: string }[], turn = 1, userText = 'go') => ({
    turn,
    userText,
    steps: results.length,
    results: results.map((r) => ({ ...r, isError: false })),
  })

  it('lists, reads, edits, runs, writes, then answers', () => {
    const listing = '. (3 entries)\nsrc/  4 KiB\nindex.js  18 B\nREADME.md  32 B'
    const read = '     1\t# Title\n     2\t\n     3\tSome text.\n'
    const steps: string[] = []
    const results: { toolName: string; output: string }[] = []
    const outputs: Record<string, string> = {
      list_dir: listing,
      read_file: read,
      edit_file: 'edited',
      bash: 'Linux 6.1\nfiles: 3',
      write_file: 'wrote',
    }
    for (let i = 0; i < 6; i++) {
      const step = builtinDemoStep(view(results))
      const tool = step.tool_calls[0]?.tool
      if (tool === undefined) break
      steps.push(tool)
      results.push({ toolName: tool, output: outputs[tool] ?? '' })
    }
    expect(steps).toEqual(['list_dir', 'read_file', 'edit_file', 'bash', 'write_file'])
    const answer = builtinDemoStep(view(results))
    expect(answer.tool_calls).toEqual([])
    expect(answer.text).toMatch(/safe-coder sync/)
  })

  it('picks a README, else a text file, never a directory or dotfile', () => {
    expect(pickFile('. (2 entries)\nsrc/  1 KiB\nREADME.md  3 B')).toBe('README.md')
    expect(pickFile('. (3 entries)\n.env  1 B\nlib/  1 KiB\nmain.py  4 B')).toBe('main.py')
    expect(pickFile('. (1 entry)\nimage.png  4 KiB')).toBeUndefined()
  })

  it('appends after a unique last line, in the file type’s comment syntax', () => {
    expect(planEdit('a.py', '     1\tprint(1)\n     2\tprint(2)')).toMatchObject({
      old_string: 'print(2)',
      new_string: expect.stringMatching(/^print\(2\)\n\n# Reviewed/) as unknown,
    })
    // A last line that occurs twice would make edit_file ambiguous: take the last unique one.
    expect(planEdit('a.js', '     1\tfoo()\n     2\t}\n     3\t}')?.old_string).toBe('foo()')
    expect(planEdit('a.bin', '     1\tx')).toBeUndefined()
  })

  it('runs `run CMD` requests in later turns', () => {
    expect(builtinDemoStep(view([], 2, 'run ls -la')).tool_calls).toEqual([
      { tool: 'bash', input: { command: 'ls -la' } },
    ])
    expect(builtinDemoStep(view([], 2, 'hello')).text).toMatch(/offline demo model/)
  })
})

describe('demo scripts', () => {
  it('parses a script with defaults', () => {
    expect(parseDemoScript('{"turns":[{"steps":[{"text":"hi"}]}]}', 's.json')).toEqual({
      delay_ms: 0,
      turns: [{ steps: [{ text: 'hi', tool_calls: [] }] }],
    })
  })

  it('names the file and the key of a mistake', () => {
    expect(() => parseDemoScript('{"turns":[{"steps":[{"tool_calls":[{}]}]}]}', 's.json')).toThrow(
      /^s\.json: turns\.0\.steps\.0\.tool_calls\.0\.tool: /,
    )
    expect(() => parseDemoScript('{nope', 's.json')).toThrow('s.json is not valid JSON.')
  })
})
