import { z } from 'zod'
import { SANDBOX_IMAGE } from '../shared/version.js'

/**
 * The one source of truth for configuration: every key, its type, its default. Keys are the
 * snake_case names users write in TOML/JSON/YAML files. Objects are strict so a misspelt key
 * is an error, not a silently ignored setting. Custom messages are written as what a valid value
 * is ("a Debian package name"): config errors print them after "must be".
 */

/** Endpoints Safe Coder talks to over HTTP; `file:` or `javascript:` URLs are mistakes. */
const httpUrl = z.url({ protocol: /^https?$/ })

const backend = z.enum(['auto', 'docker', 'podman', 'qemu', 'firecracker'])
const provider = z.enum(['anthropic', 'openai', 'openai-compatible', 'ollama', 'demo'])

/**
 * A sandbox disk in MiB: 64 leaves ext4 room for its journal and a little work; 16 TiB is the
 * largest ext4 file system with 4 KiB blocks.
 */
const diskMib = z
  .number()
  .int()
  .min(64)
  .max(16 * 1024 * 1024)

const isolation = z.strictObject({
  backend: backend.default('auto'),
})

const docker = z.strictObject({
  image: z.string().min(1).default(SANDBOX_IMAGE),
  cpus: z.number().positive().max(1024).default(2),
  memory_mb: z.number().int().min(64).default(2048),
  pids_limit: z.number().int().min(16).default(512),
  auto_pull: z.boolean().default(false),
  runtime: z.string().min(1).optional(),
  socket: z.string().min(1).optional(),
  read_only_root: z.boolean().default(false),
  tmp_size_mb: z.number().int().min(1).default(512),
  /** The workspace disk and the container's writable layer, each at most this large. */
  disk_mb: diskMib.default(10_240),
  /** Route exec and file operations through Safe Coder's agent in its own image (faster). */
  agent: z.enum(['auto', 'off']).default('auto'),
})

const vm = z.strictObject({
  firecracker_bin: z.string().min(1).default('firecracker'),
  qemu_bin: z.string().min(1).default('qemu-system-x86_64'),
  kernel_image: z.string().min(1).optional(),
  rootfs_image: z.string().min(1).optional(),
  vcpu_count: z.number().int().min(1).max(32).default(2),
  mem_size_mib: z.number().int().min(128).default(2048),
  /** The workspace drive's size: everything the guest may keep in /workspace. */
  disk_size_mib: diskMib.default(10_240),
  accel: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
  /** Where built guest images are kept (default: $XDG_CACHE_HOME/safe-coder/vm). */
  image_dir: z.string().min(1).optional(),
  /** How long a VM may take from launch to its agent's hello (TCG is slow). */
  boot_timeout_s: z.number().positive().max(600).default(90),
  /** How long the KVM test boot may take before KVM is judged not to work. */
  probe_timeout_s: z.number().positive().max(300).default(20),
})

const llm = z.strictObject({
  provider: provider.default('anthropic'),
  model: z.string().min(1).optional(),
  api_key: z.string().min(1).optional(),
  base_url: httpUrl.optional(),
  max_tokens: z.number().int().min(1).default(8192),
  max_retries: z.number().int().min(0).max(10).default(4),
  idle_timeout_s: z.number().positive().max(3600).default(90),
  context_tokens: z.number().int().min(1024).optional(),
})

const agent = z.strictObject({
  max_steps: z.number().int().min(1).max(1000).default(50),
  approval: z.enum(['auto', 'ask', 'deny']).default('auto'),
  bash_timeout_s: z.number().positive().max(86_400).default(300),
  tool_output_chars: z.number().int().min(1000).max(1_000_000).default(30_000),
})

const network = z.strictObject({
  mode: z.enum(['none', 'allowlist', 'open']).default('none'),
  allow: z.array(z.string().min(1)).default([]),
  deny: z.array(z.string().min(1)).default([]),
})

const tui = z.strictObject({
  mouse: z.boolean().default(false),
  fps: z.number().int().min(1).max(60).default(30),
  log_lines: z.number().int().min(100).max(1_000_000).default(10_000),
  /** Action name → key or keys, e.g. { sync = "S", quit = ["q", "C-q"] }. */
  keys: z
    .record(
      z.string().regex(/^[a-z][a-z.-]*$/, 'an action name such as "sync" or "log.search"'),
      z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    )
    .default({}),
})

const workspace = z.strictObject({
  exclude: z.array(z.string().min(1)).default([]),
  /** Files larger than this are not copied in (reported as skipped). */
  max_file_mb: z.number().positive().default(100),
})

const image = z.strictObject({
  suite: z.string().min(1).default('bookworm'),
  mirror: httpUrl.default('http://deb.debian.org/debian'),
  packages: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, 'a Debian package name'))
    .default([
      'bash',
      'coreutils',
      'findutils',
      'grep',
      'sed',
      'gawk',
      'diffutils',
      'patch',
      'git',
      'ripgrep',
      'ca-certificates',
      'procps',
      'less',
      'file',
      'tar',
      'gzip',
      'xz-utils',
      'unzip',
      'curl',
      'make',
      'socat',
    ]),
})

export const configSchema = z.strictObject({
  isolation: isolation.prefault({}),
  docker: docker.prefault({}),
  vm: vm.prefault({}),
  llm: llm.prefault({}),
  agent: agent.prefault({}),
  network: network.prefault({}),
  tui: tui.prefault({}),
  workspace: workspace.prefault({}),
  image: image.prefault({}),
})

export type Config = z.infer<typeof configSchema>
export type BackendSetting = z.infer<typeof backend>
export type ProviderName = z.infer<typeof provider>
export type ApprovalPolicy = z.infer<typeof agent>['approval']

/** Section and key names, for `config show` and for error messages. */
export const configSections = Object.keys(configSchema.shape) as (keyof Config)[]
