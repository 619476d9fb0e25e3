// Copies the non-TypeScript files the code reads at run time (tool descriptions, the guest
// agent's package.json) into dist/.
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises'
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

// The guest agent is copied on its own into containers and VM images, away from this package's
// package.json: its folder carries one that makes Node load its files as ES modules.
const guest = path.join(root, 'dist', 'guest')
await mkdir(guest, { recursive: true })
await writeFile(
  path.join(guest, 'package.json'),
  `${JSON.stringify({ name: 'safe-coder-agent', private: true, type: 'module' }, null, 2)}\n`,
)
