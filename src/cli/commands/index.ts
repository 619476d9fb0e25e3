import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Sets the process exit status without exiting (commands may still be cleaning up). */
export type SetStatus = (code: number) => void

/** A command module: adds its subcommand(s) to the program. */
export type RegisterCommand = (program: Command, ctx: CliContext, setStatus: SetStatus) => void

const modules: RegisterCommand[] = []

/** Every command module registers itself here; main.ts knows only this function. */
export function registerCommands(program: Command, ctx: CliContext, setStatus: SetStatus): void {
  for (const register of modules) register(program, ctx, setStatus)
}
