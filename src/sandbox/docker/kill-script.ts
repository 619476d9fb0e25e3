/**
 * Kills every process of one exec inside the container. Each exec carries a marker in its
 * environment, which children inherit even after setsid() or a double fork, so this finds
 * daemonised stragglers that a process-group kill would miss. Loops until none is left, so
 * a fork bomb cannot outrun it. Pure POSIX sh + /proc: works in Debian and busybox images.
 */
export const KILL_SCRIPT = `
marker="SAFE_CODER_EXEC=$1"
round=0
while [ $round -lt 20 ]; do
  found=0
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$$" ] && continue
    if tr '\\000' '\\n' < "$d/environ" 2>/dev/null | grep -qxF -- "$marker"; then
      kill -KILL "$p" 2>/dev/null && found=1
    fi
  done
  [ $found -eq 0 ] && exit 0
  round=$((round + 1))
done
`
