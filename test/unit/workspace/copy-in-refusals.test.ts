import { existsSync } from 'node:fs'
import { chown, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isSafeCoderError, type ErrorCode } from '../../../src/shared/errors.js'
import { copyIn, type CopyInOptions } from '../../../src/workspace/copy-in.js'
import { commitAll, listTree, projectAndMirror, tempDir, writeTree } from './fixtures.js'

async function expectFailure(options: CopyInOptions, code: ErrorCode, message: RegExp) {
  const error: unknown = await copyIn(options).then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(isSafeCoderError(error, code), String(error)).toBe(true)
  if (isSafeCoderError(error)) {
    expect(error.message).toMatch(message)
    if (code !== 'ABORTED') expect(error.hint).toBeTruthy()
  }
}

describe('copyIn refuses', () => {
  it('a missing project with NOT_FOUND', async () => {
    const { project, mirror } = await projectAndMirror()
    const missing = path.join(project, 'nope')
    await expectFailure({ projectDir: missing, mirrorDir: mirror }, 'NOT_FOUND', /does not exist/)
    expect(existsSync(mirror)).toBe(false)
  })

  it('a non-empty mirror', async () => {
    const { project, mirror } = await projectAndMirror()
    await writeTree(project, { 'a.txt': 'a' })
    await writeTree(mirror, { 'old.txt': 'left over' })
    await expectFailure({ projectDir: project, mirrorDir: mirror }, 'COPY_FAILED', /not empty/)
    expect(await listTree(mirror)).toEqual(['old.txt'])
  })

  it('the project itself as the mirror', async () => {
    const { project } = await projectAndMirror()
    await writeTree(project, { 'a.txt': 'a' })
    await expectFailure(
      { projectDir: project, mirrorDir: `${project}/.` },
      'COPY_FAILED',
      /is the project itself/,
    )
  })

  it('a mirror that reaches into the project through a symlink', async () => {
    const { project } = await projectAndMirror()
    await writeTree(project, { 'a.txt': 'a' })
    const state = await tempDir()
    await symlink(project, path.join(state, 'link'))
    await expectFailure(
      { projectDir: project, mirrorDir: path.join(state, 'link/work') },
      'COPY_FAILED',
      /lies inside the project's copied files/,
    )
    expect(await listTree(project)).toEqual(['a.txt'])
  })

  for (const source of ['git', 'walk'] as const) {
    it(`a mirror inside the copied files, but not one in an ignored directory (${source})`, async () => {
      const { project } = await projectAndMirror()
      const files = { '.gitignore': '.state/\n', 'a.txt': 'a' }
      if (source === 'git') await commitAll(project, files)
      else await writeTree(project, files)

      await expectFailure(
        { projectDir: project, mirrorDir: path.join(project, 'sessions/work') },
        'COPY_FAILED',
        /lies inside the project's copied files/,
      )
      expect(existsSync(path.join(project, 'sessions'))).toBe(false)

      const ignored = path.join(project, '.state/work')
      const report = await copyIn({ projectDir: project, mirrorDir: ignored })
      expect(report.source).toBe(source)
      expect(await listTree(ignored)).toEqual(['.gitignore', 'a.txt'])
    })
  }

  it.runIf(process.getuid?.() === 0)(
    "a repository git will not list, with git's reason (dubious ownership)",
    async () => {
      const { project, mirror } = await projectAndMirror()
      await commitAll(project, { 'a.txt': 'a' })
      await chown(project, 4321, 4321)
      await expectFailure(
        { projectDir: project, mirrorDir: mirror },
        'COPY_FAILED',
        /^Copy-in failed: git could not list the files of .* \(detected dubious ownership/,
      )
    },
  )

  it('a mirror that cannot be created, with a message saying what and why', async () => {
    const { project } = await projectAndMirror()
    await writeTree(project, { 'a.txt': 'a' })
    const state = await tempDir()
    await writeFile(path.join(state, 'file'), 'not a directory')
    await expectFailure(
      { projectDir: project, mirrorDir: path.join(state, 'file/work') },
      'COPY_FAILED',
      /^Copy-in failed: cannot (resolve|create) mirror directory .*file\/work \(ENOTDIR\)\.$/,
    )
  })
})

describe('copyIn abort', () => {
  it('rejects with ABORTED before touching anything when already aborted', async () => {
    const { project, mirror } = await projectAndMirror()
    await writeTree(project, { 'a.txt': 'a' })
    const signal = AbortSignal.abort()
    await expectFailure({ projectDir: project, mirrorDir: mirror, signal }, 'ABORTED', /cancelled/)
    expect(existsSync(mirror)).toBe(false)
  })

  for (const source of ['git', 'walk'] as const) {
    it(`stops mid-copy and rejects with ABORTED (${source})`, async () => {
      const { project, mirror } = await projectAndMirror()
      const files = Object.fromEntries(
        Array.from({ length: 400 }, (_, i) => [`d${i % 4}/f${i}.txt`, `${i}`]),
      )
      if (source === 'git') await commitAll(project, files)
      else await writeTree(project, files)
      const controller = new AbortController()

      await expectFailure(
        {
          projectDir: project,
          mirrorDir: mirror,
          concurrency: 4,
          signal: controller.signal,
          onProgress: () => {
            controller.abort()
          },
        },
        'ABORTED',
        /cancelled/,
      )

      const copied = (await listTree(mirror)).length
      expect(copied).toBeGreaterThan(0)
      expect(copied).toBeLessThan(50)
    })
  }
})
