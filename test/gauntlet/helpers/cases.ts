import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { BACKENDS, QUICK, type GauntletBackend } from './options.js'
import { World, type WorldOptions } from './world.js'

/** The scorecard's groups: what the case throws at Safe Coder. */
export type Kind = 'attack' | 'fault' | 'input' | 'load'

/** What a case leaves for the scorecard (vitest's task.meta reaches the JSON reporter). */
export interface GauntletMeta {
  kind?: Kind
  backend?: GauntletBackend
  notes?: string[]
  /** A known limitation: the case passes only because it asserts the documented behaviour. */
  limitation?: string
  /** Set by a case that did not run, with why (the scorecard says it). */
  skipped?: string
  /** The load case's measurement, for docs/performance.md. */
  throughput?: {
    sessions: number
    callsPerSession: number
    toolCalls: number
    seconds: number
    callsPerSecond: number
    backend: string
    quick: boolean
  }
}

export interface CaseContext {
  /** A line for the scorecard's notes column (how a stage was hit, a measured figure, …). */
  note(text: string): void
  meta: GauntletMeta
}

export interface CaseOptions {
  timeoutMs?: number
  /** Skipped in the quick subset; the reason is shown in the scorecard. */
  fullOnly?: boolean
  world?: WorldOptions
  /** Relaxations of the host checks a case documents (a session damaged on purpose, …). */
  verify?: { allowDamaged?: boolean; skipHistory?: string[] }
  /** Skip the case (with this reason) when it returns a string, e.g. a missing host tool. */
  requires?: (backend: GauntletBackend) => Promise<string | undefined>
}

/** Defines `define(backend)` once per backend under `backend › kind`, the scorecard's keys. */
export function suite(kind: Kind, define: (backend: GauntletBackend) => void): void {
  for (const backend of BACKENDS) {
    describe(backend, () => {
      describe(kind, () => {
        define(backend)
      })
    })
  }
}

/**
 * One gauntlet case: a fresh world (isolated HOME with dotfiles, a canary tree outside the
 * project, the project), the case's body, then the host checks every case ends with.
 */
export function gauntlet(
  backend: GauntletBackend,
  title: string,
  body: (world: World, c: CaseContext) => Promise<void>,
  options: CaseOptions = {},
): void {
  it(
    title,
    async (ctx) => {
      const meta = ctx.task.meta as GauntletMeta
      meta.backend = backend
      meta.notes = []
      const note = (text: string): void => {
        meta.notes?.push(text)
      }
      if (options.fullOnly === true && QUICK) {
        meta.skipped = 'full run only'
        ctx.skip()
        return
      }
      const missing = await options.requires?.(backend)
      if (missing !== undefined) {
        meta.skipped = missing
        ctx.skip()
        return
      }
      const world = await World.create(backend, options.world)
      try {
        await body(world, { note, meta })
        const problems = await world.verify(options.verify)
        expect(problems, 'the host after the case').toEqual([])
      } finally {
        await world.dispose()
      }
    },
    options.timeoutMs ?? 180_000,
  )
}

/** Runs a host command (not the CLI), for checks outside Safe Coder. */
export async function host(
  file: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa(file, args, { reject: false, ...options })
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr }
}
