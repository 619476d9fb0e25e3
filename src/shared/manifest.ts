/**
 * The common language of tracking and sync-back: a flat map of project-relative POSIX paths to
 * what is there, identified by git blob ids so the audit repository, the base snapshot of the
 * host and the host's current files can be compared without reading content twice.
 */

/** Git's file modes: regular, executable, symlink (the blob holds the link target). */
export type GitFileMode = 0o100644 | 0o100755 | 0o120000

export interface ManifestEntry {
  /** Git blob id (sha1 of "blob <size>\0" + content); for a symlink, of its target text. */
  oid: string
  mode: GitFileMode
  size: number
  /**
   * Over the size cap: recorded, never read. `oid` then identifies a placeholder text, not the
   * content, and tools must treat the file as "too large" rather than compare bytes.
   */
  tooLarge?: boolean
}

/** Path ("src/a.ts", never "./", "..", absolute or with NUL) → entry. Directories are implied. */
export type Manifest = Record<string, ManifestEntry>

/** Where sync-back reads the session's version of the project from (its HEAD commit). */
export interface SyncSource {
  /** The session's files at the commit being synced. */
  entries(signal?: AbortSignal): Promise<Manifest>
  /** The bytes of one entry (a symlink's target for mode 120000). */
  read(path: string, entry: ManifestEntry, signal?: AbortSignal): Promise<Uint8Array>
  /**
   * A regular file's bytes in bounded chunks, for files too large to hold at once; undefined
   * when this source can only read it whole. Not verified against `entry.oid`: the caller
   * hashes what it receives.
   */
  stream?(path: string, entry: ManifestEntry): Promise<AsyncIterable<Uint8Array> | undefined>
}
