import type { Command } from 'commander'
import { SafeCoderError } from '../../shared/errors.js'
import type { CliContext } from '../context.js'

/** Sets the process exit status without exiting (commands may still be cleaning up). */
export type SetStatus = (code: number) => void

/** A command module: adds its subcommand(s) to the program. */
export type RegisterCommand = (program: Command, ctx: CliContext, setStatus: SetStatus) => void

/**
 * One command module: the commands it adds (name and one-line summary, for the top-level help)
 * and how to load it. A module is imported only when its command runs: a command pays for its
 * own dependencies (the engine client, the model SDKs, the dashboard), not for everyone's.
 * `commands.test.ts` checks these summaries against what each module registers.
 */
interface CommandModule {
  commands: readonly (readonly [name: string, summary: string])[]
  load: () => Promise<RegisterCommand>
}

export const commandModules: readonly CommandModule[] = [
  {
    commands: [
      [
        'doctor',
        'check every sandbox backend, the image, and prove isolation from inside a live sandbox',
      ],
    ],
    load: async () => (await import('./doctor.js')).registerDoctor,
  },
  {
    commands: [
      ['tui', 'the dashboard: chat, process logs, gauges, history and review of many sessions'],
    ],
    load: async () => (await import('./tui.js')).registerTui,
  },
  {
    commands: [['chat', 'talk to the agent about a project; it works on a sandboxed copy']],
    load: async () => (await import('./chat.js')).registerChat,
  },
  {
    commands: [
      ['run', 'run one task headless in a new session (progress on stderr, summary on stdout)'],
    ],
    load: async () => (await import('./run.js')).registerRun,
  },
  {
    commands: [
      [
        'exec',
        'run a command in a session sandbox and record what it changed (the project is not modified)',
      ],
    ],
    load: async () => (await import('./exec.js')).registerExec,
  },
  {
    commands: [
      [
        'sessions',
        'list sessions: status, backend, project, commits, changed files, unsynced work',
      ],
    ],
    load: async () => (await import('./sessions.js')).registerSessions,
  },
  {
    commands: [
      ['log', "a session's commits, newest first, with the files each changed"],
      ['diff', 'what a commit changed (default: the whole session against the copied-in project)'],
      [
        'revert',
        'undo a commit (or some of its files) as a new commit; the sandbox sees the result',
      ],
    ],
    load: async () => (await import('./review.js')).registerReview,
  },
  {
    commands: [
      [
        'sync',
        "apply a session's work to the project (three-way, journaled, undoable with --undo)",
      ],
    ],
    load: async () => (await import('./sync.js')).registerSync,
  },
  {
    commands: [
      [
        'discard',
        "delete sessions' sandboxes, copies and histories (asks first unless --yes or --dry-run)",
      ],
    ],
    load: async () => (await import('./sync.js')).registerDiscard,
  },
  {
    commands: [
      [
        'resume',
        'recover a session after a crash: clean up its sandbox, record leftover changes, start a new sandbox',
      ],
    ],
    load: async () => (await import('./resume.js')).registerResume,
  },
  {
    commands: [['image', 'manage sandbox images']],
    load: async () => (await import('./image.js')).registerImage,
  },
  {
    commands: [
      [
        'gc',
        'remove sandboxes (containers) whose Safe Coder process is gone; session data is kept',
      ],
    ],
    load: async () => (await import('./gc.js')).registerGc,
  },
  {
    commands: [['config', 'Show the merged configuration, or write a commented config file.']],
    load: async () => (await import('./config.js')).registerConfig,
  },
  {
    commands: [
      [
        'trust',
        "trust a project's config file: its current contents may widen your settings (see docs/config.md)",
      ],
    ],
    load: async () => (await import('./trust.js')).registerTrust,
  },
]

/**
 * The command `argv` names: its first word, or the one after `help`. Undefined when it names
 * none (no arguments, `--help`, `--version`, a word that is no command).
 */
export function namedCommand(argv: readonly string[]): CommandModule | undefined {
  const words = argv.filter((word) => !word.startsWith('-'))
  const name = words[0] === 'help' ? words[1] : words[0]
  if (name === undefined) return undefined
  return commandModules.find((module) => module.commands.some(([n]) => n === name))
}

/**
 * Registers the commands on `program`: the module `argv` names is loaded and registers itself,
 * every other command is listed with its summary only (for help and "did you mean"). Without
 * `argv`, every module is loaded (the full tree: tests, the generated CLI reference).
 */
export async function registerCommands(
  program: Command,
  ctx: CliContext,
  setStatus: SetStatus,
  argv?: readonly string[],
): Promise<void> {
  const wanted = argv === undefined ? undefined : namedCommand(argv)
  for (const module of commandModules) {
    if (argv === undefined || module === wanted) {
      const register = await module.load()
      register(program, ctx, setStatus)
      continue
    }
    for (const [name, summary] of module.commands) {
      // Listed only: its module is loaded when its name is the command (see namedCommand).
      program
        .command(name)
        .description(summary)
        .allowUnknownOption()
        .allowExcessArguments()
        .action(() => {
          throw new SafeCoderError('INTERNAL', `The command "${name}" was not loaded.`)
        })
    }
  }
}
