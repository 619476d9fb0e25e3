import { SafeCoderError } from '../../shared/errors.js'
import type { ExecRequest, ExecResult, Sandbox } from '../../sandbox/types.js'
import type { ToolContext } from './types.js'

/** Exit statuses of GUARD_SCRIPT; no command the tools run exits with these. */
const GUARD_STATUS = { missing: 96, outside: 97, notDir: 98 } as const

/**
 * `sh -c GUARD guard PATH KIND CMD ARGS...`: runs CMD only when PATH exists, resolves (symlinks
 * followed, inside the sandbox) into /workspace, and is a directory when KIND is "dir". Every
 * argument stays an argv element; nothing the model wrote is parsed by the shell.
 */
const GUARD_SCRIPT = `
[ -e "$1" ] || exit ${GUARD_STATUS.missing}
r=$(readlink -f "$1") || exit ${GUARD_STATUS.missing}
case $r in /workspace|/workspace/*) ;; *) exit ${GUARD_STATUS.outside} ;; esac
if [ "$2" = dir ] && [ ! -d "$r" ]; then exit ${GUARD_STATUS.notDir}; fi
shift 2
exec "$@"
`

/** The tools' own commands (find, grep, readlink) get this long before they are killed. */
const HELPER_TIMEOUT_MS = 60_000

/**
 * Runs `argv` from /workspace once `target` (a project path) has passed GUARD_SCRIPT. Turns the
 * guard's refusals into PATH_REJECTED / NOT_FOUND, a timeout into a tool error and
 * cancellation into ABORTED.
 */
export async function guardedExec(
  ctx: ToolContext,
  target: string,
  kind: 'dir' | 'any',
  argv: string[],
  req: Omit<ExecRequest, 'command'> = {},
): Promise<ExecResult> {
  const result = await helperExec(ctx, {
    ...req,
    command: ['/bin/sh', '-c', GUARD_SCRIPT, 'safe-coder-guard', dotted(target), kind, ...argv],
  })
  const data = { path: target }
  switch (result.exitCode) {
    case GUARD_STATUS.missing:
      throw new SafeCoderError('NOT_FOUND', `${JSON.stringify(target)} does not exist.`, { data })
    case GUARD_STATUS.outside:
      throw new SafeCoderError(
        'PATH_REJECTED',
        `${JSON.stringify(target)} was refused: a symlink on it leads out of the project.`,
        { data },
      )
    case GUARD_STATUS.notDir:
      throw new SafeCoderError('PATH_REJECTED', `${JSON.stringify(target)} is not a directory.`, {
        data,
      })
    default:
      return result
  }
}

/**
 * A command the tools run for themselves (never the model's): a timeout is a tool error, a
 * cancelled turn is ABORTED.
 */
export async function helperExec(ctx: ToolContext, req: ExecRequest): Promise<ExecResult> {
  const result = await ctx.sandbox.exec(
    { timeoutMs: HELPER_TIMEOUT_MS, ...req },
    { signal: ctx.signal },
  )
  if (result.aborted) throw new SafeCoderError('ABORTED', 'The tool call was cancelled.')
  if (result.timedOut) {
    throw new SafeCoderError(
      'TIMEOUT',
      `The search took longer than ${HELPER_TIMEOUT_MS / 1000} s and was stopped.`,
      { hint: 'Narrow it with a more specific path, glob or pattern.' },
    )
  }
  return result
}

/** A project path as a command argument: "./x", so that a name like "-rf" is never an option. */
export function dotted(target: string): string {
  return target === '.' ? '.' : `./${target}`
}

/** A path printed by a command run from /workspace, back to a project path. */
export function undotted(printed: string): string {
  return printed.startsWith('./') ? printed.slice(2) : printed
}

export interface Programs {
  rg: boolean
  bash: boolean
}

const probes = new WeakMap<Sandbox, Promise<Programs>>()

/** Which optional programs the sandbox has; asked once per sandbox. */
export function programs(ctx: ToolContext): Promise<Programs> {
  let probe = probes.get(ctx.sandbox)
  if (probe === undefined) {
    probe = helperExec(ctx, {
      command: 'for p in rg bash; do command -v "$p" >/dev/null 2>&1 && echo "$p"; done; true',
    }).then((result) => {
      const found = result.stdout.split('\n')
      return { rg: found.includes('rg'), bash: found.includes('bash') }
    })
    probes.set(ctx.sandbox, probe)
    // A cancelled or failed probe says nothing about the sandbox: ask again next time.
    void probe.catch(() => probes.delete(ctx.sandbox))
  }
  return probe
}
