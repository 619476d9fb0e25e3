/**
 * A hostile background process for the scan-race tests (issue 14 item 3), as a shell command
 * for the sandbox: it outlives the tool call that starts it and, in a tight loop, exchanges
 * directories of the workspace with symlinks to a host path (Linux renameat2 RENAME_EXCHANGE,
 * so each name is always either the directory or the link). A host walk of the mirror that
 * resolves a name while it is the link reads the host path instead. Beside it runs a small
 * HTTP server on 127.0.0.1:8080, the dev server that must survive every commit.
 *
 * Needs perl (Safe Coder's own image and the microVM guest have it) and curl for the check.
 */

/** Directories the racer swaps (created by the start command). */
export const RACED_DIRS = Array.from({ length: 16 }, (_, i) => `race${i}`)

/** The command that plants the racer's directories and links, then starts it and the server. */
export function startRacerCommand(hostPath: string): string {
  const quoted = `'${hostPath.replace(/'/g, `'\\''`)}'`
  const plant = RACED_DIRS.map(
    (dir) => `mkdir -p ${dir} && echo inner > ${dir}/inner.txt && ln -sfn ${quoted} ${dir}.link`,
  ).join(' && ')
  // syscall 316 is renameat2 on x86_64; -100 is AT_FDCWD, 2 is RENAME_EXCHANGE.
  const racer = [
    'my @dirs = @ARGV;',
    'while (1) {',
    '  for my $d (@dirs) { my ($a, $b) = ($d, "$d.link"); syscall(316, -100, $a, -100, $b, 2); }',
    // A short sleep every 20 rounds leaves the sandbox's other processes (the agent, the
    // server) some of the core; each directory still flips thousands of times a second.
    '  select(undef, undef, undef, 0.0002) if ++$n % 20 == 0;',
    '}',
  ].join(' ')
  const server = [
    'use IO::Socket::INET;',
    'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:8080", Listen => 5, ReuseAddr => 1) or die "listen: $!";',
    'while (my $c = $s->accept) { print $c "HTTP/1.0 200 OK\\r\\n\\r\\nalive " . ++$n . "\\n"; close $c }',
  ].join(' ')
  return [
    plant,
    `(setsid perl -e '${racer}' ${RACED_DIRS.join(' ')} </dev/null >/dev/null 2>&1 & echo $! > /tmp/racer.pid)`,
    `(setsid perl -e '${server}' </dev/null >/dev/null 2>&1 & echo $! > /tmp/server.pid)`,
    // The server is listening before the call ends, so a later check can tell "gone" from "late".
    'for i in $(seq 1 100); do curl -s http://127.0.0.1:8080/ && break; sleep 0.05; done',
    'echo started',
  ].join('\n')
}

/** Prints RACER-ALIVE and the server's answer when both background processes still run. */
export const CHECK_RACER_COMMAND =
  'kill -0 "$(cat /tmp/racer.pid)" && echo RACER-ALIVE; curl -s --max-time 5 http://127.0.0.1:8080/'

/** Stops the racer, so the state is still when the session ends. */
export const STOP_RACER_COMMAND = 'kill "$(cat /tmp/racer.pid)"; echo stopped'
