import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it, onTestFinished } from 'vitest'
import { main } from '../../../src/cli/main.js'
import { configSchema, userConfigPath } from '../../../src/config/index.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'
import { buildVmImage } from '../../../src/sandbox/images.js'
import { defaultGuestImageCacheDir } from '../../../src/sandbox/microvm/image/index.js'
import { stateDir } from '../../../src/shared/state-dir.js'
import { xdgBaseDir } from '../../../src/shared/xdg.js'

async function tempHome(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-xdg-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Runs the CLI in this process, as the binary would, and collects what it prints. */
async function runCli(argv: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const chunks = { out: '', err: '' }
  stdout.on('data', (chunk: Buffer) => (chunks.out += chunk.toString()))
  stderr.on('data', (chunk: Buffer) => (chunks.err += chunk.toString()))
  const signal = new AbortController().signal
  const status = await main(argv, { cwd, env, stdout, stderr, signal })
  return { status, ...chunks }
}

describe('XDG base directories', () => {
  it('ignore a relative or empty value, as the spec says, and use an absolute one', () => {
    const home = '/home/u'
    for (const value of ['relative/dir', './x', '']) {
      const env = {
        HOME: home,
        XDG_STATE_HOME: value,
        XDG_CONFIG_HOME: value,
        XDG_CACHE_HOME: value,
      }
      expect(stateDir(env)).toBe('/home/u/.local/state/safe-coder')
      expect(userConfigPath(env)).toBe('/home/u/.config/safe-coder/config.toml')
      expect(defaultGuestImageCacheDir(env)).toBe('/home/u/.cache/safe-coder/vm')
    }
    expect(xdgBaseDir({ HOME: home, XDG_CACHE_HOME: '/c' }, 'XDG_CACHE_HOME')).toBe('/c')
    expect(stateDir({ HOME: home, XDG_STATE_HOME: '/s' })).toBe('/s/safe-coder')
  })
})

describe('a state, config or cache home that is a file', () => {
  it.each([
    ['XDG_STATE_HOME', ['sessions'], ''],
    ['XDG_STATE_HOME', ['sessions'], 'below'],
    ['XDG_CONFIG_HOME', ['config', 'show'], ''],
  ])('%s (%s) is a configuration error naming it', async (variable, argv, below) => {
    const home = await tempHome()
    const file = path.join(home, 'not-a-dir')
    await writeFile(file, 'x')
    const value = below === '' ? file : path.join(file, below)
    const result = await runCli(argv, { HOME: home, [variable]: value }, home)
    expect(result.err).toContain(`${variable}=${value}`)
    expect(result.err).toContain(`${file} is not a directory`)
    expect(result.err).not.toMatch(/bug in Safe Coder/)
    expect(result.status).toBe(78)
  })

  it('XDG_CACHE_HOME stops a guest image build before anything is built', async () => {
    const home = await tempHome()
    const file = path.join(home, 'cache-file')
    await writeFile(file, 'x')
    // A socket that is not there: a build that went past the check would fail differently.
    const config = configSchema.parse({ docker: { socket: path.join(home, 'no.sock') } })
    const error: unknown = await buildVmImage(
      config,
      {},
      { HOME: home, XDG_CACHE_HOME: file },
    ).then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    expect(isSafeCoderError(error, 'CONFIG_INVALID'), String(error)).toBe(true)
    expect((error as Error).message).toContain(`XDG_CACHE_HOME=${file}`)
  })

  it('names HOME when the default folder is in the way', async () => {
    const home = await tempHome()
    await mkdir(path.join(home, '.local'))
    await writeFile(path.join(home, '.local', 'state'), 'x')
    const result = await runCli(['sessions'], { HOME: home }, home)
    expect(result.err).toContain(`HOME=${home}`)
    expect(result.err).toMatch(/set XDG_STATE_HOME to an absolute directory/)
    expect(result.status).toBe(78)
  })

  it('lets a missing state folder be created later', async () => {
    const home = await tempHome()
    const result = await runCli(['sessions'], { HOME: home, XDG_STATE_HOME: `${home}/a/b` }, home)
    expect(result.err).toBe('')
    expect(result.status).toBe(0)
  })
})
