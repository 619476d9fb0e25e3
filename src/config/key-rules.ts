import type { Config } from './schema.js'

/**
 * How a project's own config file may set a key (DESIGN.md §1: a project may only narrow what
 * the user and the defaults allow). "Effective" below means the value from the defaults and the
 * user file, the layers a project file sits on.
 */
export type KeyRule =
  /** Presentation only: a project sets it freely. */
  | { kind: 'free' }
  /** Refused from a project file; `picks` ends "… may not be set in a project file: it …". */
  | { kind: 'user-only'; picks: string }
  /** A number a project may only lower: its value must be ≤ the effective one (unset: any). */
  | { kind: 'at-most' }
  /** A choice a project may only make stricter: `order` runs from loosest to strictest. */
  | { kind: 'stricter'; order: readonly string[] }
  /** A switch a project may only turn to `value` (the stricter side). */
  | { kind: 'only'; value: boolean }
  /** A list a project adds to: its items are appended to the effective list, never replace it. */
  | { kind: 'adds' }

type KeyRules = { [S in keyof Config]-?: { [K in keyof Config[S]]-?: KeyRule } }

const free: KeyRule = { kind: 'free' }
const atMost: KeyRule = { kind: 'at-most' }
const adds: KeyRule = { kind: 'adds' }
const userOnly = (picks: string): KeyRule => ({ kind: 'user-only', picks })

/**
 * Every schema key, classified. The mapped type makes a new schema key without a rule a type
 * error, and test/unit/config/key-rules.test.ts checks the table against the schema's leaves.
 */
export const keyRules: KeyRules = {
  isolation: { backend: userOnly('picks the sandbox backend') },
  docker: {
    image: userOnly('picks the image every command runs in'),
    cpus: atMost,
    memory_mb: atMost,
    pids_limit: atMost,
    auto_pull: { kind: 'only', value: false },
    runtime: userOnly('picks the container runtime, a program run on your machine'),
    socket: userOnly('picks the container engine Safe Coder talks to'),
    read_only_root: { kind: 'only', value: true },
    tmp_size_mb: atMost,
    disk_mb: atMost,
    agent: userOnly('picks how commands reach the sandbox'),
  },
  vm: {
    firecracker_bin: userOnly('picks a program run on your machine'),
    qemu_bin: userOnly('picks a program run on your machine'),
    kernel_image: userOnly('picks the kernel the microVM boots'),
    rootfs_image: userOnly('picks the root filesystem the microVM boots'),
    vcpu_count: atMost,
    mem_size_mib: atMost,
    disk_size_mib: atMost,
    accel: userOnly('picks the accelerator; "tcg" is not hardware isolation'),
    image_dir: userOnly('picks a host directory guest images are read from and written to'),
    boot_timeout_s: atMost,
    probe_timeout_s: atMost,
  },
  llm: {
    provider: userOnly('picks where your code and prompts are sent'),
    model: userOnly('picks the model your key pays for'),
    api_key: userOnly('picks the account your code is sent to'),
    base_url: userOnly('picks the server your code and API key are sent to'),
    max_tokens: atMost,
    max_retries: atMost,
    idle_timeout_s: atMost,
    context_tokens: atMost,
  },
  agent: {
    max_steps: atMost,
    approval: { kind: 'stricter', order: ['auto', 'ask', 'deny'] },
    bash_timeout_s: atMost,
    tool_output_chars: atMost,
  },
  network: {
    mode: { kind: 'stricter', order: ['open', 'allowlist', 'none'] },
    allow: userOnly('opens the network to more hosts'),
    deny: adds,
  },
  tui: {
    mouse: free,
    fps: free,
    log_lines: atMost,
    keys: userOnly('rebinds the keys you press, e.g. "q" to sync'),
  },
  workspace: { exclude: adds, max_file_mb: atMost },
  image: {
    suite: userOnly('picks what is installed in the sandbox image'),
    mirror: userOnly('picks where the sandbox image is downloaded from'),
    packages: userOnly('picks what is installed in the sandbox image'),
  },
}

/** The rule of a `section.key` path; undefined for a path the schema does not have. */
export function keyRule(section: string, key: string): KeyRule | undefined {
  const rules = (keyRules as Record<string, Record<string, KeyRule> | undefined>)[section]
  return rules?.[key]
}

/** What a project file may do with a key, as the template and docs say it. */
export function describeRule(rule: KeyRule): string {
  switch (rule.kind) {
    case 'free':
      return ''
    case 'user-only':
      return 'A project file may not set it (user file, --config, environment or flag only).'
    case 'at-most':
      return 'A project file may only lower it.'
    case 'stricter':
      return `A project file may only make it stricter (${rule.order.map((v) => JSON.stringify(v)).join(' < ')}).`
    case 'only':
      return `A project file may only set it to ${String(rule.value)}.`
    case 'adds':
      return "A project file adds to it (to the user file's list)."
  }
}
