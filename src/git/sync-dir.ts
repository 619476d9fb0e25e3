import { open } from 'node:fs/promises'

// A rename is durable only once its directory is flushed; one fsync per commit is cheap.
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
