import type {
  ImageInfo,
  ProbeResult,
  Sandbox,
  SandboxBackend,
  SandboxInfo,
  SandboxSpec,
} from '../../src/sandbox/types.js'
import { FakeSandbox } from './fake-sandbox.js'

/**
 * A backend of in-memory sandboxes for session tests. `left` are sandboxes some process made
 * (listed until removed, as `gc` and `resume` see them); `create` makes a FakeSandbox, which
 * `prepare` may script (its exec can write into `spec.mirrorDir` as a container would).
 */
export class FakeBackend implements SandboxBackend {
  readonly kind = 'docker' as const
  readonly removed: string[] = []
  readonly created: FakeSandbox[] = []

  constructor(
    readonly left: SandboxInfo[] = [],
    private readonly prepare: (sandbox: FakeSandbox, spec: SandboxSpec) => void = () => undefined,
  ) {}

  probe(): Promise<ProbeResult> {
    return Promise.resolve({ kind: 'docker', available: true, summary: 'fake', details: {} })
  }

  create(spec: SandboxSpec): Promise<Sandbox> {
    const sandbox = new FakeSandbox({}, `fake-${this.created.length + 1}`)
    this.prepare(sandbox, spec)
    this.created.push(sandbox)
    return Promise.resolve(sandbox)
  }

  list(): Promise<SandboxInfo[]> {
    return Promise.resolve(this.left.filter((s) => !this.removed.includes(s.id)))
  }

  remove(id: string): Promise<void> {
    this.removed.push(id)
    return Promise.resolve()
  }

  imageStatus(): Promise<ImageInfo> {
    return Promise.resolve({ image: 'fake', present: true })
  }
}

/** A sandbox as `list` reports it. */
export function sandboxInfo(
  id: string,
  sessionId: string,
  ownerPid: number,
  ownerHost = 'here',
): SandboxInfo {
  return {
    id,
    kind: 'docker',
    sessionId,
    ownerPid,
    ownerHost,
    createdAt: 0,
    projectPath: '/p',
    state: 'running',
  }
}
