import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { AgentClient, ChangeSet } from '../../../../src/sandbox/agent-channel/types.js'
import { MicrovmSandbox } from '../../../../src/sandbox/microvm/microvm-sandbox.js'
import { DEFAULT_MAX_FILE_BYTES } from '../../../../src/sandbox/types.js'
import { deliver } from '../../../helpers/pull-receiver.js'
import type { VmHandle } from '../../../../src/sandbox/microvm/types.js'

function latch() {
  let open = (): void => undefined
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

/** The part of a guest agent that pulls and pushes use; the rest is never called here. */
function fakeAgent(log: string[], pullMayFinish: Promise<void>, pullStarted: () => void) {
  const unused = (): never => {
    throw new Error('not used by this test')
  }
  const set: ChangeSet = {
    changes: [{ path: 'pulled.txt', kind: 'file', mode: 0o644, size: 6, sha256: '' }],
    skipped: [],
  }
  const agent: AgentClient = {
    hello: {
      protocol: 1,
      version: 'test',
      kernel: 'test',
      pid: 1,
      root: '/workspace',
      features: [],
    },
    closed: false,
    exec: unused,
    readFile: unused,
    writeFile: (rel) => {
      log.push(`push ${rel}`)
      return Promise.resolve()
    },
    stat: unused,
    list: unused,
    mark: unused,
    changes: () => {
      log.push('changes')
      return Promise.resolve(set)
    },
    pull: async (paths, onFile) => {
      log.push('pull started')
      pullStarted()
      await pullMayFinish
      for (const rel of paths)
        await deliver(await onFile({ path: rel, mode: 0o644, size: 6 }), Buffer.from('guest\n'))
      log.push('pull done')
      return { pulled: paths.length, missing: [] }
    },
    stats: unused,
    shutdown: unused,
    close: () => undefined,
  }
  return agent
}

function fakeVm(): VmHandle {
  const never = new Promise<never>(() => undefined)
  return {
    id: 'vm-test',
    kind: 'qemu',
    accel: 'kvm',
    pid: 0,
    exited: never,
    connectAgent: () => never,
    hostStats: () => never,
    consoleTail: () => Promise.resolve(''),
    kill: () => Promise.resolve(),
  }
}

describe("a microVM's mirror work", () => {
  // Only the host writes a microVM's mirror, but a pull replaces directories with links as the
  // guest did: a push or a commit's walk running beside it could follow one out of the mirror.
  it('runs pulls, pushes and holds one at a time', async () => {
    const mirrorDir = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-vm-mirror-'))
    onTestFinished(() => rm(mirrorDir, { recursive: true, force: true }))
    await writeFile(path.join(mirrorDir, 'reverted.txt'), 'host\n')
    const log: string[] = []
    const mayFinish = latch()
    const started = latch()
    const sandbox = new MicrovmSandbox({
      kind: 'qemu',
      vm: fakeVm(),
      agent: fakeAgent(log, mayFinish.opened, started.open),
      mirrorDir,
      user: { uid: 1000, gid: 1000 },
      env: {},
      memoryLimitBytes: 1,
      maxFileBytes: DEFAULT_MAX_FILE_BYTES,
      release: () => Promise.resolve({ changed: [], skipped: [] }),
    })
    const pulling = sandbox.syncOut()
    await started.opened
    const pushing = sandbox.syncIn(['reverted.txt'])
    const holding = sandbox.whileFrozen(async () => {
      log.push(`hold sees ${await readFile(path.join(mirrorDir, 'pulled.txt'), 'utf8')}`)
    })
    mayFinish.open()
    expect(await pulling).toEqual(['pulled.txt'])
    await Promise.all([pushing, holding])
    expect(log).toEqual([
      'changes',
      'pull started',
      'pull done',
      'hold sees guest\n',
      'push reverted.txt',
    ])
  })
})
