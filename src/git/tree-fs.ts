import fsp from 'node:fs/promises'

/** The promise file system isomorphic-git is handed for one operation. */
export type ObjectFs = ReturnType<typeof createObjectFs>

/**
 * Node's promise API with two per-call costs removed. isomorphic-git re-detects its fs on every
 * call by invoking `readFile()` with no arguments, which node answers by building and throwing
 * an error; this client answers at once. And it lists `objects/pack` before every packed read;
 * within one operation the listing is kept (packs written meanwhile are not ours to read).
 */
export function createObjectFs() {
  const listings = new Map<string, Promise<string[]>>()
  return {
    readFile: (file?: string, options?: Parameters<typeof fsp.readFile>[1]) =>
      file === undefined ? Promise.resolve(undefined) : fsp.readFile(file, options),
    readdir: (dir: string) => {
      let listing = listings.get(dir)
      if (listing === undefined) {
        listing = fsp.readdir(dir)
        listings.set(dir, listing)
        listing.catch(() => listings.delete(dir))
      }
      return listing
    },
    writeFile: fsp.writeFile,
    mkdir: fsp.mkdir,
    rmdir: fsp.rmdir,
    unlink: fsp.unlink,
    stat: fsp.stat,
    lstat: fsp.lstat,
    readlink: fsp.readlink,
    symlink: fsp.symlink,
    rm: fsp.rm,
  }
}
