import type { FileReceiver, PulledFile } from '../../src/sandbox/agent-channel/types.js'

export interface KeptFile extends PulledFile {
  data: Buffer
}

/**
 * Pull receivers that keep each committed file in memory, in the order they were committed;
 * `onCommit` runs for each (a test may make the receiver slow there).
 */
export function keepFiles(onCommit: (file: KeptFile) => Promise<void> | void = () => undefined): {
  receive: (file: PulledFile) => Promise<FileReceiver>
  files: KeptFile[]
  discarded: string[]
} {
  const files: KeptFile[] = []
  const discarded: string[] = []
  const receive = (file: PulledFile): Promise<FileReceiver> => {
    const chunks: Buffer[] = []
    return Promise.resolve({
      write: (chunk) => {
        chunks.push(Buffer.from(chunk))
        return Promise.resolve()
      },
      commit: async () => {
        const kept = { ...file, data: Buffer.concat(chunks) }
        await onCommit(kept)
        files.push(kept)
      },
      discard: () => {
        discarded.push(file.path)
        return Promise.resolve()
      },
    })
  }
  return { receive, files, discarded }
}

/** Feeds `data` to a receiver the way a pull would, in chunks, then commits. */
export async function deliver(receiver: FileReceiver, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; at += 64 * 1024) {
    await receiver.write(data.subarray(at, at + 64 * 1024))
  }
  await receiver.commit()
}
