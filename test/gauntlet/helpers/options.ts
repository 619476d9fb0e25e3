/**
 * What one gauntlet run covers, from the environment the runner (scripts/gauntlet.ts) sets:
 * which backends every case runs against, and whether this is the quick (CI) subset.
 */

export type GauntletBackend = 'docker' | 'podman' | 'qemu' | 'firecracker'

const KNOWN: readonly GauntletBackend[] = ['docker', 'podman', 'qemu', 'firecracker']

function parseBackends(value: string | undefined): GauntletBackend[] {
  const names = (value ?? 'docker')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const unknown = names.filter((n) => !KNOWN.includes(n as GauntletBackend))
  if (unknown.length > 0) {
    throw new Error(
      `SAFE_CODER_GAUNTLET_BACKENDS names unknown backends: ${unknown.join(', ')} (known: ${KNOWN.join(', ')}).`,
    )
  }
  return names.length === 0 ? ['docker'] : (names as GauntletBackend[])
}

/** `SAFE_CODER_GAUNTLET_BACKENDS=docker[,qemu]` (default docker): each case runs once per backend. */
export const BACKENDS = parseBackends(process.env.SAFE_CODER_GAUNTLET_BACKENDS)

/** `SAFE_CODER_GAUNTLET_QUICK=1`: the CI subset (smaller counts; full-only cases are skipped). */
export const QUICK = process.env.SAFE_CODER_GAUNTLET_QUICK === '1'

/** Sizes that differ between the quick subset and the full run. */
export const SCALE = QUICK
  ? {
      tinyFiles: 10_000,
      floodBytes: 256 * 1024 ** 2,
      agentFloodBytes: 64 * 1024 ** 2,
      copyInFiles: 5_000,
      commitFiles: 5_000,
      syncFiles: 1_000,
      loadSessions: 10,
      loadCalls: 12,
      raceCalls: 16,
    }
  : {
      tinyFiles: 1_000_000,
      floodBytes: 8 * 1024 ** 3,
      agentFloodBytes: 1024 ** 3,
      copyInFiles: 40_000,
      commitFiles: 80_000,
      syncFiles: 10_000,
      loadSessions: 10,
      loadCalls: 50,
      raceCalls: 100,
    }

/** The image every sandbox uses: the product's default Debian image (bash, curl, perl, rg). */
export const GAUNTLET_IMAGE = process.env.SAFE_CODER_GAUNTLET_IMAGE ?? 'safe-coder/sandbox:0.1.0'
