import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { expect, onTestFinished, test } from 'vitest'
import { blobTableFile, readPlaceholders } from '../../../src/git/tree-large.js'
import { openReader } from '../../../src/git/tree-read.js'

const oid = (i: number) => i.toString(16).padStart(40, '0')

test('the blob table answers sizes and placeholders the same before and after it is parsed', async () => {
  const gitdir = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-placeholders-'))
  onTestFinished(() => rm(gitdir, { recursive: true, force: true }))
  await mkdir(path.join(gitdir, 'safe-coder'))
  const lines = Array.from({ length: 300 }, (_, i) => `${oid(i)} ${i * 10}`)
  lines.push(`${oid(1000)} 5000000 "big/file.bin"`, 'not a line', `${oid(2000)} 12`)
  await writeFile(path.join(gitdir, blobTableFile), `${lines.join('\n')}\n${oid(3000)} 4`)
  const placeholders = await readPlaceholders(openReader({ gitdir }))
  expect(placeholders.has('big/file.bin', oid(1000))).toBe(true)
  expect(placeholders.has('other.bin', oid(1000))).toBe(false)
  // A placeholder line names a path, not a size; a torn last line still reads as written.
  expect(placeholders.sizeOf(oid(1000))).toBeUndefined()
  expect(placeholders.sizeOf(oid(3000))).toBe(4)
  // More look-ups than the text is searched for: the rest come from the parsed table.
  for (let i = 0; i < 300; i++) expect(placeholders.sizeOf(oid(i))).toBe(i * 10)
  expect(placeholders.sizeOf(oid(2000))).toBe(12)
  expect(placeholders.sizeOf(oid(1000))).toBeUndefined()
  expect(placeholders.sizeOf(oid(4000))).toBeUndefined()
})
