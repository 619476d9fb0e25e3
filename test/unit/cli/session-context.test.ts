import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { CliContext } from '../../../src/cli/context.js'
import { openSessionContext } from '../../../src/cli/session-context.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'
import { captureStream } from '../../helpers/cli.js'
import { makeConfigDirs } from '../config/dirs.js'

async function context() {
  const dirs = await makeConfigDirs()
  const stderr = captureStream()
  const ctx: CliContext = {
    cwd: dirs.root,
    env: dirs.env,
    stdout: captureStream().stream,
    stderr: stderr.stream,
    signal: new AbortController().signal,
  }
  const project = async (name: string, toml: string): Promise<string> => {
    const dir = path.join(dirs.root, name)
    await dirs.write(path.join(dir, '.safecoderrc.toml'), toml)
    return dir
  }
  return { dirs, ctx, stderr, project }
}

describe('configuration follows the project', () => {
  it('reads the project’s file, not the working directory’s', async () => {
    const { ctx, project } = await context()
    await project('.', '[workspace]\nexclude = ["cwd-only"]\n')
    const a = await project('a', '[workspace]\nexclude = ["*.env"]\n')
    const session = await openSessionContext(ctx, {}, {}, [a])
    expect(session.tracking.exclude).toEqual(['*.env'])
  })

  it('gives several projects each its own excludes and every one’s narrowing', async () => {
    const { ctx, project } = await context()
    const a = await project('a', '[workspace]\nexclude = ["*.env"]\n[docker]\nmemory_mb = 1024\n')
    const b = await project('b', '[workspace]\nexclude = ["*.pem"]\n[agent]\napproval = "deny"\n')
    const session = await openSessionContext(ctx, {}, {}, [a, 'b'])
    expect(session.config.docker.memory_mb).toBe(1024)
    expect(session.config.agent.approval).toBe('deny')
    expect((await session.projectTracking(a)).exclude).toEqual(['*.env'])
    expect((await session.projectTracking(b)).exclude).toEqual(['*.pem'])
  })

  it('runs a project opened later with its excludes, or refuses it if it asks for more', async () => {
    const { ctx, project } = await context()
    const a = await project('a', '[docker]\nmemory_mb = 1024\n')
    const looser = await project('c', '[workspace]\nexclude = ["secret/"]\n')
    const stricter = await project('d', '[docker]\nmemory_mb = 512\n')
    const session = await openSessionContext(ctx, {}, {}, [a])
    expect((await session.projectTracking(looser)).exclude).toEqual(['secret/'])
    const error = await session.projectTracking(stricter).catch((e: unknown) => e)
    expect(isSafeCoderError(error, 'USAGE')).toBe(true)
    expect((error as Error).message).toContain('[docker] memory_mb = 512')
    expect((error as { hint?: string }).hint).toContain(`safe-coder tui -p ${stricter}`)
  })
})
