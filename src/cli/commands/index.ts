import type { Command } from 'commander'
import type { CliContext } from '../context.js'
import { registerConfig } from './config.js'
import { registerDoctor } from './doctor.js'
import { registerExec } from './exec.js'
import { registerGc } from './gc.js'
import { registerImage } from './image.js'
import { registerResume } from './resume.js'
import { registerRun } from './run.js'
import { registerChat } from './chat.js'
import { registerTui } from './tui.js'
import { registerReview } from './review.js'
import { registerSessions } from './sessions.js'
import { registerDiscard, registerSync } from './sync.js'
import { registerTrust } from './trust.js'

/** Sets the process exit status without exiting (commands may still be cleaning up). */
export type SetStatus = (code: number) => void

/** A command module: adds its subcommand(s) to the program. */
export type RegisterCommand = (program: Command, ctx: CliContext, setStatus: SetStatus) => void

const modules: RegisterCommand[] = [
  registerDoctor,
  registerTui,
  registerChat,
  registerRun,
  registerExec,
  registerSessions,
  registerReview,
  registerSync,
  registerDiscard,
  registerResume,
  registerImage,
  registerGc,
  registerConfig,
  registerTrust,
]

/** Every command module registers itself here; main.ts knows only this function. */
export function registerCommands(program: Command, ctx: CliContext, setStatus: SetStatus): void {
  for (const register of modules) register(program, ctx, setStatus)
}
