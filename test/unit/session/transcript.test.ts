import { appendFile, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { appendTranscript, loadTranscript } from '../../../src/session/transcript.js'
import { tempDir } from '../../helpers/sandbox.js'

describe('transcript.jsonl', () => {
  it('round-trips messages and applies compaction records', async () => {
    const file = path.join(await tempDir(), 'transcript.jsonl')
    expect(await loadTranscript(file)).toEqual([])
    await appendTranscript(file, { message: { role: 'user', content: 'one' } })
    await appendTranscript(file, {
      message: { role: 'assistant', content: [{ type: 'text', text: 'two' }] },
    })
    await appendTranscript(file, { compacted: [{ role: 'user', content: 'summary' }] })
    await appendTranscript(file, { message: { role: 'user', content: 'three' } })
    expect(await loadTranscript(file)).toEqual([
      { role: 'user', content: 'summary' },
      { role: 'user', content: 'three' },
    ])
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(4)
  })

  it('drops a torn last line and gives dangling tool calls an error result', async () => {
    const file = path.join(await tempDir(), 'transcript.jsonl')
    await appendTranscript(file, { message: { role: 'user', content: 'go' } })
    await appendTranscript(file, {
      message: {
        role: 'assistant',
        content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'bash', input: {} }],
      },
    })
    await appendFile(file, '{"type":"message","at":"2026-')
    const messages = await loadTranscript(file)
    expect(messages).toHaveLength(3)
    expect(messages[2]).toEqual({
      role: 'tool',
      content: [
        {
          type: 'tool-result',
          toolCallId: 'c1',
          toolName: 'bash',
          output: 'Interrupted: Safe Coder stopped before this call finished.',
          isError: true,
        },
      ],
    })
  })

  it('refuses a damaged line in the middle, naming the file and line', async () => {
    const file = path.join(await tempDir(), 'transcript.jsonl')
    await writeFile(
      file,
      'garbage\n{"type":"message","at":"x","message":{"role":"user","content":"a"}}\n',
    )
    await expect(loadTranscript(file)).rejects.toMatchObject({
      message: `${file}:1 is not a transcript record.`,
    })
  })
})
