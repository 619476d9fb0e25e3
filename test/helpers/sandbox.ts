import { mkdtemp, rm, chmod } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { onTestFinished } from 'vitest'
import { detachWorkspaceDisk, mountsUnder } from '../../src/sandbox/disk/index.js'
import { DockerBackend } from '../../src/sandbox/docker/backend.js'
import type { DockerBackendOptions } from '../../src/sandbox/docker/options.js'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import type { Sandbox, SandboxSpec } from '../../src/sandbox/types.js'
import { createId } from '../../src/shared/ids.js'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { requireEngine } from './docker.js'

/** Backend options for tests: the small busybox image and tight limits. */
export function testBackendOptions(
  overrides: Partial<DockerBackendOptions> = {},
): DockerBackendOptions {
  return {
    kind: 'docker',
    image: BUSYBOX_IMAGE,
    cpus: 1,
    memoryMb: 256,
    pidsLimit: 128,
    tmpSizeMb: 64,
    diskMb: 64,
    readOnlyRoot: false,
    autoPull: false,
    ...overrides,
  }
}

/**
 * The two ways the Docker backend runs commands, which must behave alike: Engine-API exec (the
 * busybox image has no agent) and the in-container agent (Safe Coder's own image).
 */
export const sandboxVariants: {
  name: string
  backend: Partial<DockerBackendOptions>
  /** Memory the sandbox needs besides the command (the agent's Node process). */
  memoryFloorMb: number
}[] = [
  { name: 'engine exec', backend: { image: BUSYBOX_IMAGE }, memoryFloorMb: 0 },
  { name: 'in-container agent', backend: { image: SANDBOX_IMAGE }, memoryFloorMb: 128 },
]

/** A temporary host directory, removed when the test ends. */
export async function tempDir(prefix = 'safe-coder-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix))
  onTestFinished(() => removeTree(dir))
  return dir
}

/**
 * Deletes a test's tree. Sessions made as root keep their mirror on a mounted disk (see
 * docs/sandboxing.md#disk-limits) that only `discard` unmounts: unmount what is left first.
 */
export async function removeTree(dir: string): Promise<void> {
  for (const mount of await mountsUnder(dir)) await detachWorkspaceDisk(mount.mountPoint)
  await rm(dir, { recursive: true, force: true })
}

/**
 * A live sandbox on the real daemon with an empty mirror, disposed when the test ends.
 * Fails (never skips) when its engine (Docker unless `backend.kind` says Podman) is missing.
 */
export async function createTestSandbox(
  options: { backend?: Partial<DockerBackendOptions>; spec?: Partial<SandboxSpec> } = {},
): Promise<{ sandbox: Sandbox; mirror: string; backend: DockerBackend }> {
  await requireEngine(options.backend?.kind ?? 'docker')
  const mirror = await tempDir('safe-coder-mirror-')
  // The sandbox user may be someone other than the test runner; let it write the mirror.
  await chmod(mirror, 0o777)
  const backend = new DockerBackend(testBackendOptions(options.backend))
  const sandbox = await backend.create({
    sessionId: createId('test'),
    mirrorDir: mirror,
    projectPath: mirror,
    ...options.spec,
  })
  onTestFinished(() => sandbox.dispose())
  return { sandbox, mirror, backend }
}
