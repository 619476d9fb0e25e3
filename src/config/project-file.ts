import path from 'node:path'
import { defaultLoaders } from 'cosmiconfig'
import { SafeCoderError } from '../shared/errors.js'
import type { FileOwner } from './file-safety.js'
import { toLoadError } from './files.js'
import { applyProjectRules, type ProjectBaseline } from './project-trust.js'
import { findProjectFile, type FoundProjectFile } from './project-search.js'
import { readTrust } from './trust-store.js'
import type { ConfigLayer } from './types.js'
import { validateLayer } from './validate.js'

/** A project's config file, checked, loaded and ruled: the layer it adds, and what to say. */
export interface LoadedProjectFile {
  file: string
  layer: ConfigLayer
  trusted: boolean
  /** Loud lines for the user: what only the trust let this file do. */
  warnings: string[]
}

/**
 * Finds, checks and loads the config file of `projectDir`. In this order: the search stops at
 * the project root; a file another user could have planted is refused; a JavaScript file is
 * refused unless trusted (it is never executed before those checks); its values are validated;
 * then the key rules let it only narrow `baseline`. A trusted file (`safe-coder trust`, matching
 * digest) may bypass the last three, and each bypass becomes a warning.
 */
export async function loadProjectFile(
  projectDir: string,
  env: NodeJS.ProcessEnv,
  owner: FileOwner | undefined,
  baseline: ProjectBaseline,
): Promise<LoadedProjectFile | undefined> {
  const found = await findProjectFile(projectDir, env, owner)
  if (found === undefined) return undefined
  const record = await readTrust(env, found.realFile)
  const trusted = record?.digest === found.digest
  const changedSince = record !== undefined && !trusted ? record.trustedAt : undefined
  const warnings: string[] = []
  if (found.risks.length > 0) {
    if (found.script || !trusted) throw plantedError(found, changedSince)
    warnings.push(
      `trusted project file ${found.file} is read although ${found.risks.join(' and ')}.`,
    )
  }
  if (found.script && !trusted) throw scriptError(found, changedSince)
  const origin = { kind: 'file', path: found.file } as const
  const raw = found.parse === undefined ? await runScript(found.file) : found.parse()
  const ruled = applyProjectRules(found.file, validateLayer(raw, origin), baseline, {
    trusted,
    projectDir: found.directory,
    ...(changedSince === undefined ? {} : { changedSince }),
  })
  if (ruled.widenings.length > 0)
    warnings.push(
      `trusted project file ${found.file} widens what you allow: ${ruled.widenings.join(', ')}.`,
    )
  return { file: found.file, layer: { origin, values: ruled.values }, trusted, warnings }
}

// Only reached for a trusted script that passed the ownership checks.
async function runScript(file: string): Promise<unknown> {
  const extension = path.extname(file) as '.js' | '.mjs' | '.cjs'
  try {
    return (await defaultLoaders[extension](file, '')) as unknown
  } catch (error) {
    throw toLoadError(error, file)
  }
}

function changedNote(changedSince: string | undefined): string {
  return changedSince === undefined
    ? ''
    : ` You trusted it on ${changedSince}, but it has changed since you trusted it.`
}

function plantedError(found: FoundProjectFile, changedSince: string | undefined): SafeCoderError {
  const fix = found.script
    ? 'A JavaScript config is never run from a place another user can write: fix its owner or permissions (chown, chmod go-w), or use .safecoderrc.toml.'
    : `Fix its owner or permissions (chown, chmod go-w), or review it and run \`safe-coder trust ${found.directory}\` to accept its current contents.`
  return new SafeCoderError(
    'CONFIG_INVALID',
    `Refusing the project config file ${found.file}: ${found.risks.join(' and ')}, so another user could have planted or changed it; it was not read.${changedNote(changedSince)}`,
    { hint: fix, data: { file: found.file, risks: found.risks } },
  )
}

function scriptError(found: FoundProjectFile, changedSince: string | undefined): SafeCoderError {
  return new SafeCoderError(
    'CONFIG_INVALID',
    `Refusing the project config file ${found.file}: it is JavaScript, and loading it would run its code on your machine; it was not run.${changedNote(changedSince)}`,
    {
      hint: `Use .safecoderrc.toml instead (\`safe-coder config init\` writes one), or review ${found.file} and run \`safe-coder trust ${found.directory}\`.`,
      data: { file: found.file },
    },
  )
}
