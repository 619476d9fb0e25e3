/**
 * Mirror names git and isomorphic-git refuse in a tree (`.git` in any spelling git treats as
 * such on NTFS or HFS+, `git~1`, names of only dots and spaces, backslashes, NTFS streams) would
 * make the whole commit unreadable, so they are stored escaped: the marker `=sc=` followed by the
 * name with `% = . \ : ~`, spaces and HFS-ignorable characters percent-encoded. A real name that
 * starts with the marker is escaped too, so the mapping is one-to-one. A nested `.git/` is thus
 * an ordinary directory named `=sc=%2Egit` in the history, and its real name in every manifest.
 */
const marker = '=sc='
const ignorable = /[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g
const encoded = /[%=.\\: ~\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g

// Whether isomorphic-git (like git's verify_path with core.protectNTFS/HFS) would refuse the name.
function isRefused(name: string): boolean {
  const stream = name.replace(ignorable, '').split(':')[0] ?? ''
  const normalised = stream.toLowerCase().replace(/[. ]+$/, '')
  return (
    name.includes('\\') ||
    (normalised === '' && stream !== '') ||
    normalised === '.git' ||
    /^\.?git~[1-9]$/.test(normalised)
  )
}

export function encodeTreeName(name: string): string {
  if (!isRefused(name) && !name.startsWith(marker)) return name
  const body = name.replace(encoded, (char) =>
    [...Buffer.from(char)]
      .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  )
  return `${marker}${body}`
}

// Review and sync-back see the names the sandbox used, not the stored spelling.
/** The mirror name of a stored tree entry name. */
export function decodeTreeName(stored: string): string {
  if (!stored.startsWith(marker)) return stored
  try {
    return decodeURIComponent(stored.slice(marker.length))
  } catch {
    return stored
  }
}

/** The mirror path of a `/`-separated path read from a stored tree. */
export function decodeTreePath(stored: string): string {
  return stored.includes(marker) ? stored.split('/').map(decodeTreeName).join('/') : stored
}
