/**
 * Allow-list presets: the hosts a package manager needs, written as "preset:NAME" in an allow
 * (or deny) list. "preset:" cannot be a host name, so a preset never shadows a real host.
 */
import { SafeCoderError } from '../shared/errors.js'

export type PresetName = 'npm' | 'pypi' | 'crates' | 'go' | 'debian'

/** Package registries, written in the allow-list as "preset:NAME". */
export const presets: Record<PresetName, string[]> = {
  npm: ['registry.npmjs.org:443', 'registry.yarnpkg.com:443'],
  pypi: ['pypi.org:443', 'files.pythonhosted.org:443'],
  crates: ['crates.io:443', 'static.crates.io:443', 'index.crates.io:443'],
  go: ['proxy.golang.org:443', 'sum.golang.org:443', 'storage.googleapis.com:443'],
  debian: [
    'deb.debian.org:80',
    'deb.debian.org:443',
    'security.debian.org:80',
    'security.debian.org:443',
  ],
}

function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(presets, name)
}

/** Replaces each "preset:NAME" entry by its destinations; other entries pass unchanged. */
export function expandPresets(entries: readonly string[]): string[] {
  const out: string[] = []
  for (const entry of entries) {
    const name = /^preset:(.*)$/i.exec(entry.trim())?.[1]?.toLowerCase()
    if (name === undefined) out.push(entry)
    else if (isPresetName(name)) out.push(...presets[name])
    else {
      throw new SafeCoderError('CONFIG_INVALID', `Unknown network preset "${entry}".`, {
        hint: `Presets: ${Object.keys(presets)
          .map((n) => `preset:${n}`)
          .join(', ')}.`,
        data: { entry },
      })
    }
  }
  return [...new Set(out)]
}
