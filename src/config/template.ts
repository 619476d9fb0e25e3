import { apiKeyVariables, envBindings } from './env.js'
import { describeRule, keyRule } from './key-rules.js'
import type { Config } from './schema.js'
import { configLeaves, defaultConfig, describeExpected, type ConfigLeaf } from './schema-info.js'
import { formatTomlEntry } from './toml-value.js'

/** A key's one-line explanation, and for keys with no default an example value. */
type KeyDoc = string | { text: string; example: unknown }

type KeyDocs = { [S in keyof Config]: { [K in keyof Config[S]]-?: KeyDoc } }

const width = 100

const sectionDocs: Record<keyof Config, string> = {
  isolation: 'Where tool calls run.',
  docker: 'Containers on a Docker-API engine (Docker, or Podman through its compatible socket).',
  vm: 'KVM microVMs (Linux): Firecracker, or QEMU with its microvm machine.',
  llm: 'The model the agent talks to.',
  agent: 'How the agent works: its step limit, approvals and tool limits.',
  network: 'Network access from the sandbox: none unless allowed here.',
  tui: 'The dashboard (`safe-coder tui`).',
  workspace: 'What is copied from the project into the sandbox.',
  image: 'The sandbox image `safe-coder image build` makes offline with debootstrap.',
}

// Typed against Config, so a key added to the schema does not compile until it is documented.
const keyDocs: KeyDocs = {
  isolation: {
    backend:
      '"auto" tries Firecracker, then QEMU microvm, then Docker/Podman; it never falls back to the host.',
  },
  docker: {
    image: 'Image the sandbox container is created from.',
    cpus: 'CPU cores the container may use; fractions are allowed.',
    memory_mb: 'Memory limit of the container, in MiB.',
    pids_limit: 'Most processes the container may run at once (stops fork bombs).',
    auto_pull: 'Pull the image from its registry when it is not present locally.',
    runtime: {
      text: 'OCI runtime, e.g. "runsc" for gVisor. Not set: the engine\'s default runtime.',
      example: 'runsc',
    },
    socket: {
      text: 'Engine API endpoint: a socket path or a unix://, tcp:// or npipe:// URL. Not set: the standard sockets are probed.',
      example: 'unix:///run/user/1000/docker.sock',
    },
    read_only_root:
      'Mount the root filesystem read-only; /workspace, /tmp, /var/tmp and /run/lock stay writable. Also done when the engine cannot bound the writable layer to disk_mb.',
    tmp_size_mb:
      'Size of the tmpfs mounted at /tmp, in MiB (with a read-only root also /var/tmp and /run/lock); tmpfs is memory, counted in memory_mb.',
    disk_mb:
      'Most the sandbox may store, in MiB: the size of its /workspace disk (enforced when Safe Coder runs as root, which can mount it) and of its writable root layer (where the engine supports storage-opt size; otherwise the root is read-only). `safe-coder doctor` shows what holds here.',
    agent:
      '"auto" runs exec and file operations through Safe Coder\'s agent inside its own sandbox image (much faster than an Engine-API exec per call); "off" always uses Engine-API exec.',
  },
  vm: {
    firecracker_bin: 'Firecracker binary: a name looked up on PATH, or a path.',
    qemu_bin: 'QEMU binary: a name looked up on PATH, or a path.',
    kernel_image: {
      text: 'Guest kernel (an uncompressed ELF vmlinux) in place of the built one; the built initramfs loads its own modules, so this kernel must have virtio-mmio, virtio-blk, virtio-console, vsock, ext4 and overlay built in. Not set: the one `safe-coder image build --vm` made.',
      example: '/var/lib/safe-coder/vmlinux',
    },
    rootfs_image: {
      text: 'Guest root filesystem (ext4, with Node at /usr/local/bin/node and the agent in /opt/safe-coder/agent) in place of the built one. Not set: the one `safe-coder image build --vm` made.',
      example: '/var/lib/safe-coder/rootfs.ext4',
    },
    vcpu_count: 'Virtual CPUs of each microVM.',
    mem_size_mib: 'Memory of each microVM, in MiB.',
    disk_size_mib:
      "Size of each microVM's /workspace drive, in MiB: the most the guest may keep there (its root is a tmpfs overlay, counted in mem_size_mib). The host needs this much free space when a VM starts.",
    accel:
      '"auto" uses KVM when a test boot proves it works; "tcg" is software emulation: slow, and not hardware isolation (auto-detection never picks it).',
    image_dir: {
      text: 'Where `safe-coder image build --vm` keeps guest images. Not set: $XDG_CACHE_HOME/safe-coder/vm.',
      example: '/var/cache/safe-coder/vm',
    },
    boot_timeout_s:
      'Seconds a microVM may take from launch until its agent answers (TCG boots take ~10 s).',
    probe_timeout_s: 'Seconds the KVM test boot may take before KVM is judged not to work.',
  },
  llm: {
    provider: '"demo" is a scripted offline provider that needs no API key.',
    model: {
      text: "Model name as the provider spells it. Not set: the provider's default model.",
      example: 'claude-sonnet-4-5',
    },
    api_key: {
      text: 'API key; best kept out of files that are shared or committed.',
      example: 'sk-...',
    },
    base_url: {
      text: 'Endpoint of an OpenAI-compatible server (OpenRouter, vLLM, LM Studio, llama.cpp) or of Ollama.',
      example: 'https://openrouter.ai/api/v1',
    },
    max_tokens: 'Most tokens the model may produce in one response.',
    max_retries: 'Retries of a failed model request (429, 5xx, overloaded), honouring retry-after.',
    idle_timeout_s: 'Fail a model response that sends nothing for this many seconds.',
    context_tokens: {
      text: 'Context window of the model, in tokens. Not set: known for common models, else 128000.',
      example: 200000,
    },
  },
  agent: {
    max_steps: 'Most model steps in one turn before it stops with a step-limit error.',
    approval:
      '"auto" runs every tool call; "ask" asks before `bash` and file writes; "deny" allows reads only. Headless runs cannot ask: there "ask" denies, unless `run --yes`.',
    bash_timeout_s: 'Longest a `bash` tool call may run, in seconds.',
    tool_output_chars:
      "Characters of a tool's output the model sees; the rest is cut with a marker.",
  },
  network: {
    mode: '"none": no network at all; "allowlist": only `allow` hosts, through a proxy that logs every connection; "open": unrestricted (said loudly everywhere).',
    allow:
      'Hosts the sandbox may reach in "allowlist" mode: "pkgs.example.com", "*.example.org", "10.1.2.3:8080", or a preset: "preset:npm", "preset:pypi", "preset:crates", "preset:go", "preset:debian".',
    deny: 'Hosts refused even when `allow` (or "open") would let them through. Same forms.',
  },

  tui: {
    mouse:
      "Capture the mouse (click to focus, wheel to scroll). Off keeps the terminal's copy and paste; `m` toggles it.",
    fps: 'Most screen redraws per second; nothing is drawn while idle.',
    log_lines: "Lines each session's process log keeps; older lines fall off.",
    keys: 'Key bindings by action, replacing the defaults (`?` in the dashboard lists every action), e.g. { "review.sync" = "S", quit = ["q", "C-q"] }.',
  },
  workspace: {
    exclude: 'Extra gitignore-style patterns left out of the copy; .gitignore is always honoured.',
    max_file_mb: 'Files larger than this many MiB are not copied in; they are reported as skipped.',
  },
  image: {
    suite: 'Debian suite to install.',
    mirror: 'Debian mirror to download packages from.',
    packages: 'Packages in the sandbox image and in the microVM root filesystem.',
  },
}

const header = [
  'Safe Coder configuration: every key, its default, and what it does.',
  '',
  'Files, lowest precedence first:',
  '  ~/.config/safe-coder/config.toml  for every project ($XDG_CONFIG_HOME/safe-coder/config.toml)',
  '  .safecoderrc.toml                 for one project: in its directory or up to its git root',
  '                                    (.json, .yaml, package.json#safecoder work too). It may only',
  '                                    narrow the user file: see each key, and docs/config.md',
  'Environment variables and command-line flags override both files.',
  '',
  'A commented-out "key = value" line shows the default (or, for keys with no default, an',
  'example): uncomment it to change the setting. `safe-coder config show` prints the merged',
  'configuration and where each value came from.',
]

/**
 * The commented TOML template: `config init` writes it and `.safecoderrc.example` holds it. It
 * is generated from the schema, so it documents every key with its real default.
 */
export function configTemplate(): string {
  const defaults = defaultConfig() as Record<string, Record<string, unknown>>
  const lines = header.map((line) => (line === '' ? '#' : `# ${line}`))
  let section: string | undefined
  for (const leaf of configLeaves()) {
    if (leaf.section !== section) {
      section = leaf.section
      const doc = sectionDocs[section as keyof Config]
      lines.push('', ...wrapComment(doc), `[${section}]`)
    }
    lines.push('', ...keyLines(leaf, defaults[leaf.section]?.[leaf.key]))
  }
  return `${lines.join('\n')}\n`
}

function keyLines(leaf: ConfigLeaf, defaultValue: unknown): string[] {
  const docs = keyDocs[leaf.section as keyof Config] as Record<string, KeyDoc | undefined>
  const doc = docs[leaf.key]
  if (doc === undefined) throw new Error(`config key ${leaf.path} has no documentation`)
  const text = typeof doc === 'string' ? doc : doc.text
  // An empty table says nothing: show the example instead.
  const emptyTable =
    typeof defaultValue === 'object' &&
    defaultValue !== null &&
    Object.keys(defaultValue).length === 0
  const example = typeof doc === 'string' ? undefined : doc.example
  const value = emptyTable && example !== undefined ? example : (defaultValue ?? example)
  if (value === undefined) throw new Error(`config key ${leaf.path} has no default and no example`)
  const rule = keyRule(leaf.section, leaf.key)
  const notes = [
    `${text} Type: ${describeExpected(leaf.node)}.`,
    rule === undefined ? '' : describeRule(rule),
    environmentNote(leaf.path),
  ]
  const entry = formatTomlEntry(leaf.key, value, width - 2).map((line) => `# ${line}`)
  return [...wrapComment(notes.filter((n) => n !== '').join(' ')), ...entry]
}

function environmentNote(keyPath: string): string {
  if (keyPath === 'llm.api_key') {
    const byProvider = Object.entries(apiKeyVariables)
      .filter(([, variables]) => variables.length > 0)
      .map(([provider, variables]) => `${variables.join(' or ')} (${provider})`)
    return `When no file sets it, it is read from ${byProvider.join(', ')}.`
  }
  const bindings = envBindings.filter((binding) => binding.key === keyPath)
  if (bindings.length === 0) return ''
  const names = bindings.map((b) =>
    b.provider === undefined ? b.variable : `${b.variable} (when provider is ${b.provider})`,
  )
  return `Overridden by ${names.join(', ')}.`
}

function wrapComment(text: string): string[] {
  const lines: string[] = []
  let line = '#'
  // A bound stays with its number: "≥ 64" never breaks across lines.
  for (const word of text.replace(/([<>≤≥]) /g, '$1\u00a0').split(' ')) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line)
      line = '#'
    }
    line = `${line} ${word}`
  }
  lines.push(line)
  return lines.map((l) => l.replaceAll('\u00a0', ' '))
}
