import { createHash } from 'node:crypto'

/** Label keys on the images Safe Coder builds; the cache check reads them back. */
export const IMAGE_LABELS = {
  /** `sandbox` or `busybox`. */
  kind: 'safe-coder.image',
  /** The Safe Coder version that built the image. */
  version: 'safe-coder.version',
  /** sha256 of everything the image was built from; a rebuild is due when it changes. */
  inputs: 'safe-coder.inputs',
  /** Comma-separated Debian packages (sandbox image only). */
  packages: 'safe-coder.packages',
} as const

/** PATH inside both images. */
export const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The image configuration applied on import, in place of a Dockerfile. */
export interface ImageSpec {
  workdir: string
  env: Record<string, string>
  cmd: string[]
  labels: Record<string, string>
}

/** What a debootstrap image is made from. */
export interface SandboxInputs {
  suite: string
  mirror: string
  packages: string[]
}

// Package order and duplicates in the config must not force a rebuild.
export function normalizePackages(packages: readonly string[]): string[] {
  return [...new Set(packages)].sort()
}

// The cache key of the sandbox image: same inputs, same image, so the build can be skipped.
export function sandboxInputsHash(inputs: SandboxInputs): string {
  const canonical = JSON.stringify({
    suite: inputs.suite,
    mirror: inputs.mirror,
    packages: normalizePackages(inputs.packages),
  })
  return sha256(canonical)
}

// Hex digests for labels: stable, and free of characters the Dockerfile parser treats specially.
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Dockerfile instructions for the Engine's import `changes` parameter, one per query value
 * (`changes=WORKDIR …&changes=ENV …`); the Engine accepts one instruction per value.
 */
export function imageChanges(spec: ImageSpec): string[] {
  return [
    `WORKDIR ${spec.workdir}`,
    ...Object.entries(spec.env).map(([key, value]) => `ENV ${key}=${quoteDockerfile(value)}`),
    `CMD ${JSON.stringify(spec.cmd)}`,
    ...Object.entries(spec.labels).map(
      ([key, value]) => `LABEL ${quoteDockerfile(key)}=${quoteDockerfile(value)}`,
    ),
  ]
}

// ENV and LABEL values are parsed like Dockerfile words: quotes, backslashes and `$` expansion.
export function quoteDockerfile(value: string): string {
  if (/[\n\r]/.test(value)) throw new Error(`Image setting contains a line break: ${value}`)
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`
}

/** `registry:5000/name:tag` → repo `registry:5000/name`, tag `tag`; no tag means `latest`. */
export function splitImageRef(ref: string): { repo: string; tag: string } {
  const colon = ref.lastIndexOf(':')
  if (colon > ref.lastIndexOf('/')) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) }
  return { repo: ref, tag: 'latest' }
}
