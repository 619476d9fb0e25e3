import { describe, expect, it } from 'vitest'
import { combineConfigs, stricterKeys, type Config } from '../../../src/config/index.js'
import { configSchema } from '../../../src/config/schema.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'

const config = (raw: unknown): Config => configSchema.parse(raw)

describe('several projects in one process', () => {
  it('keeps every project’s narrowing: lowest limits, strictest choices, all added items', () => {
    const a = config({
      docker: { memory_mb: 1024, read_only_root: true },
      agent: { approval: 'ask' },
      network: { deny: ['a.example'] },
      workspace: { exclude: ['*.env'] },
    })
    const b = config({
      docker: { memory_mb: 512 },
      agent: { approval: 'deny', max_steps: 20 },
      network: { deny: ['b.example'] },
      tui: { fps: 10 },
    })
    const combined = combineConfigs([
      { projectDir: '/a', config: a },
      { projectDir: '/b', config: b },
    ])
    expect(combined.docker.memory_mb).toBe(512)
    expect(combined.docker.read_only_root).toBe(true)
    expect(combined.agent).toMatchObject({ approval: 'deny', max_steps: 20 })
    expect(combined.network.deny).toEqual(['a.example', 'b.example'])
    // Presentation comes from the first project.
    expect(combined.tui.fps).toBe(30)
  })

  it('refuses projects whose trusted files pick different user-only values', () => {
    const error = (() => {
      try {
        combineConfigs([
          { projectDir: '/a', config: config({ isolation: { backend: 'docker' } }) },
          { projectDir: '/b', config: config({ isolation: { backend: 'qemu' } }) },
        ])
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(isSafeCoderError(error, 'USAGE')).toBe(true)
    expect((error as Error).message).toContain(
      '[isolation] backend differently (/a: "docker"; /b: "qemu")',
    )
  })

  it('names what a later project would tighten, but not its own excludes', () => {
    const running = config({ docker: { memory_mb: 1024 } })
    const later = config({ docker: { memory_mb: 512 }, workspace: { exclude: ['x'] } })
    expect(stricterKeys(running, later)).toEqual(['[docker] memory_mb = 512'])
    expect(stricterKeys(later, running)).toEqual([])
  })
})
