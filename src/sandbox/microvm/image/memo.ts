import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * A small persistent memo (a JSON map in the image cache): lets a cached-image lookup skip
 * re-hashing the 100 MB Node binary and re-asking apt, as long as what those answers came from
 * is unchanged (the key carries file sizes and mtimes). Losing or corrupting it only costs time.
 */
export class DiskMemo {
  constructor(private readonly file: string) {}

  async get(key: string): Promise<string | undefined> {
    const map = await this.#read()
    return map[key]
  }

  async set(key: string, value: string): Promise<void> {
    const map = await this.#read()
    map[key] = value
    // Keep it small: the newest entries only.
    const entries = Object.entries(map).slice(-64)
    await mkdir(path.dirname(this.file), { recursive: true })
    const temp = `${this.file}.${process.pid}.${randomBytes(3).toString('hex')}`
    await writeFile(temp, JSON.stringify(Object.fromEntries(entries)))
    await rename(temp, this.file)
  }

  async #read(): Promise<Record<string, string>> {
    return readFile(this.file, 'utf8')
      .then((text) => JSON.parse(text) as Record<string, string>)
      .catch(() => ({}))
  }
}

/** `path:size:mtime:ino` of each file (missing ones included as such), for memo keys. */
export async function fileStamps(files: readonly string[]): Promise<string> {
  const parts: string[] = []
  for (const file of files) {
    const info = await stat(file).catch(() => undefined)
    parts.push(
      info === undefined ? `${file}:-` : `${file}:${info.size}:${info.mtimeMs}:${info.ino}`,
    )
  }
  return parts.join('|')
}
