import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Option, type Command } from 'commander'
import { createChatModel } from '../agent/provider/index.js'
import { parseDemoScript, type DemoScript } from '../agent/provider/demo-script.js'
import { builtinTools } from '../agent/tools/index.js'
import type { ChatModel } from '../agent/types.js'
import { createBus, type Bus } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import type { Config } from '../config/index.js'
import { selectBackend, selectSessionBackend } from '../sandbox/index.js'
import type { SandboxBackend } from '../sandbox/types.js'
import type { AgentSettings } from '../session/agent-session.js'
import { SessionManager } from '../session/manager.js'
import { errnoOf, SafeCoderError } from '../shared/errors.js'
import type { CliContext } from './context.js'
import {
  withCommonOptions,
  withNetworkOptions,
  type CommonOptions,
  type NetworkOptions,
} from './options.js'
import { resolveNetworkPolicy } from '../session/network.js'
import { warnDegraded, warnOpenNetwork } from './warnings.js'
import { openSessionContext, sessionProjectDir, type SessionContext } from './session-context.js'

/** Options of the commands that run the agent (`chat`, `run`). */
export interface AgentOptions extends CommonOptions, NetworkOptions {
  path?: string | string[]
  session?: string
  provider?: string
  model?: string
  demo?: boolean
  demoScript?: string
}

/** Adds the agent options to a command; `manyPaths` makes --path repeatable (the dashboard). */
export function withAgentOptions(command: Command, options: { manyPaths?: boolean } = {}): Command {
  const withPath =
    options.manyPaths === true
      ? withCommonOptions(command).option(
          '-p, --path <dir>',
          'a project to open a session on (repeatable; default: the current directory)',
          (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
        )
      : withCommonOptions(command).option(
          '-p, --path <dir>',
          'the project to work on (a copy of it)',
          '.',
        )
  return withNetworkOptions(withPath)
    .option('-s, --session <id>', 'continue this session and its conversation instead')
    .addOption(
      new Option('--provider <name>', 'model provider (overrides [llm] provider)').choices([
        'anthropic',
        'openai',
        'openai-compatible',
        'ollama',
        'demo',
      ]),
    )
    .option('-m, --model <id>', 'model id as the provider spells it (overrides [llm] model)')
    .option('--demo', 'use the offline demo model (no key, no network)')
    .option('--demo-script <file>', 'drive the demo model with this JSON script')
}

export interface AgentContext {
  session: SessionContext
  config: Config
  bus: Bus<EventMap>
  backend: SandboxBackend
  manager: SessionManager
  /** A model instance, for the summary (provider and model id). */
  model: ChatModel
}

/**
 * Everything an agent command needs, composed here and nowhere else: configuration with the
 * command's flags, the backend, the model, the bus and the session manager.
 */
export async function openAgentContext(
  ctx: CliContext,
  options: AgentOptions,
  approval: { interactive: boolean; yes: boolean },
  projectDirs: readonly string[],
): Promise<AgentContext> {
  const provider =
    options.demo === true || options.demoScript !== undefined ? 'demo' : options.provider
  const flags: Record<string, { value: unknown; flag: string }> = {}
  if (provider !== undefined) {
    flags['llm.provider'] = {
      value: provider,
      flag: options.demo === true ? '--demo' : '--provider',
    }
  }
  if (options.model !== undefined) flags['llm.model'] = { value: options.model, flag: '--model' }
  const session = await openSessionContext(ctx, options, flags, projectDirs)
  const { config } = session
  const demoScript =
    options.demoScript === undefined ? undefined : await readDemoScript(ctx, options.demoScript)
  const makeModel = (): ChatModel =>
    createChatModel({
      provider: config.llm.provider,
      ...(config.llm.model === undefined ? {} : { model: config.llm.model }),
      ...(config.llm.api_key === undefined ? {} : { apiKey: config.llm.api_key }),
      ...(config.llm.base_url === undefined ? {} : { baseUrl: config.llm.base_url }),
      ...(config.llm.context_tokens === undefined
        ? {}
        : { contextTokens: config.llm.context_tokens }),
      env: ctx.env,
      maxRetries: config.llm.max_retries,
      idleTimeoutMs: config.llm.idle_timeout_s * 1000,
      ...(demoScript === undefined ? {} : { demoScript }),
    })
  // Build one now: a missing key or base URL is reported before any sandbox starts.
  const model = makeModel()
  const { backend, probe } = await selectBackend(config, ctx.env, ctx.signal)
  warnDegraded(ctx, probe)
  const bus = createBus<EventMap>()
  const policy = config.agent.approval === 'ask' && approval.yes ? 'auto' : config.agent.approval
  const settings: AgentSettings = {
    maxSteps: config.agent.max_steps,
    maxOutputTokens: config.llm.max_tokens,
    bashTimeoutMs: config.agent.bash_timeout_s * 1000,
    toolOutputChars: config.agent.tool_output_chars,
    approval: { policy, interactive: approval.interactive },
  }
  const network = resolveNetworkPolicy(config.network, {
    ...(options.network === undefined ? {} : { mode: options.network }),
    ...(options.allowHost === undefined ? {} : { allowHosts: options.allowHost }),
  })
  warnOpenNetwork(ctx, network)
  const manager = new SessionManager({
    network,
    store: session.store,
    bus,
    backend,
    sessionBackend: async (id, signal) => {
      const record = await session.store.read(id)
      const chosen = await selectSessionBackend(id, record, config, {
        env: ctx.env,
        ...(signal === undefined ? {} : { signal }),
        requested: options.backend,
      })
      return chosen.backend
    },
    tracking: session.tracking,
    projectTracking: session.projectTracking,
    model: makeModel,
    tools: builtinTools,
    settings,
  })
  return { session, config, bus, backend, manager, model }
}

async function readDemoScript(ctx: CliContext, file: string): Promise<DemoScript> {
  const resolved = path.resolve(ctx.cwd, file)
  let text: string
  try {
    text = await readFile(resolved, 'utf8')
  } catch (error) {
    throw new SafeCoderError(
      errnoOf(error) === 'ENOENT' ? 'NOT_FOUND' : 'USAGE',
      `--demo-script ${file}: cannot read it (${errnoOf(error) ?? 'error'}).`,
      { hint: 'Give the path of a JSON demo script; see docs/agent.md.', cause: error },
    )
  }
  return parseDemoScript(text, file)
}

/**
 * The projects whose configuration an agent command runs with: configuration follows the
 * project, so it is `paths`' own (resolved against the working directory), or when there are
 * none, the project of the session being continued.
 */
export async function agentProjectDirs(
  ctx: CliContext,
  paths: readonly string[],
  session: string | undefined,
): Promise<string[]> {
  if (paths.length > 0) return paths.map((p) => path.resolve(ctx.cwd, p))
  if (session !== undefined) return [await sessionProjectDir(ctx, session)]
  return [ctx.cwd]
}

/** The one --path of `run` and `chat` (the dashboard takes several). */
export function singlePath(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? '.'
}
