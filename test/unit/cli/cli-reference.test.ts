import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { cliReference, referencePath } from '../../../scripts/cli-reference.js'

describe('docs/cli.md', () => {
  it('is what the command definitions generate (run `npm run docs:cli` after changing one)', async () => {
    const generated = await cliReference()
    expect(generated).toContain('## `safe-coder exec`')
    expect(generated).toContain('## `safe-coder image build`')
    expect(await readFile(referencePath, 'utf8')).toBe(generated)
  })
})
