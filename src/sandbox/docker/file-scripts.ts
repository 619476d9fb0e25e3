/**
 * Shell scripts for file operations, run inside the sandbox as the sandbox user so that
 * symlinks are resolved where they live and a link cannot lead out of /workspace. POSIX sh
 * with coreutils or busybox; each exits with one of FILE_STATUS on failure.
 */

export const FILE_STATUS = {
  outside: 3,
  missing: 4,
  wrongKind: 5,
  failed: 6,
} as const

/** `inside DIR`: exit 3 unless DIR (which exists) resolves into /workspace. */
const INSIDE = `
inside() {
  r=$(readlink -f -- "$1") || exit 4
  case $r in /workspace|/workspace/*) ;; *) exit 3 ;; esac
}
`

/** Reads at most $2 bytes of the regular file $1 to stdout. */
export const READ_SCRIPT = `${INSIDE}
[ -e "$1" ] || exit 4
inside "$1"
[ -f "$r" ] || exit 5
head -c "$2" -- "$r"
`

/**
 * Writes stdin to $1 atomically (temp file + rename in the same directory). Missing parents
 * are created only below the nearest existing ancestor, which must resolve into /workspace.
 * A symlink at $1 is replaced, never written through. $2 is an octal mode or empty (keep the
 * existing file's mode, else the umask default).
 */
export const WRITE_SCRIPT = `${INSIDE}
dir=$(dirname -- "$1"); name=$(basename -- "$1")
e=$dir
while [ ! -e "$e" ] && [ ! -L "$e" ]; do e=$(dirname -- "$e"); done
inside "$e"
mkdir -p -- "$dir" || exit 6
inside "$dir"
dest="$r/$name"
if [ -d "$dest" ] && [ ! -L "$dest" ]; then exit 5; fi
tmp="$r/.safe-coder-write.$$"
cat > "$tmp" || { rm -f -- "$tmp"; exit 6; }
if [ -n "$2" ]; then chmod "$2" "$tmp"
elif [ -f "$dest" ] && [ ! -L "$dest" ]; then chmod "$(stat -c %a -- "$dest")" "$tmp"
fi
[ -L "$dest" ] && rm -f -- "$dest"
mv -f -- "$tmp" "$dest" || { rm -f -- "$tmp"; exit 6; }
`

/** lstat of $1 (the last component is not followed): "rawmode-hex size mtime". */
export const STAT_SCRIPT = `${INSIDE}
[ -e "$1" ] || [ -L "$1" ] || exit 4
[ "$1" = /workspace ] || inside "$(dirname -- "$1")"
stat -c '%f %s %Y' -- "$1"
`

/** Entries of directory $1: "rawmode-hex size" newline, then the name and a NUL. */
export const LIST_SCRIPT = `${INSIDE}
[ -e "$1" ] || exit 4
inside "$1"
[ -d "$r" ] || exit 5
cd -- "$r" || exit 6
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  stat -c '%f %s' -- "$f" || continue
  printf '%s\\000' "$f"
done
`
