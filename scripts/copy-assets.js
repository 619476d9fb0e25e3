// Copies the non-TypeScript files the code reads at run time (tool descriptions) into dist/.
import { cp, readdir } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'

const root = path.resolve(import.meta.dirname, '..')
const entries = await readdir(path.join(root, 'src'), { recursive: true, withFileTypes: true })
let copied = 0
for (const entry of entries) {
  if (!entry.isFile() || !entry.name.endsWith('.md')) continue
  const from = path.join(entry.parentPath, entry.name)
  const to = path.join(root, 'dist', path.relative(path.join(root, 'src'), from))
  await cp(from, to)
  copied++
}
process.stdout.write(`copied ${copied} asset(s) into dist/\n`)
