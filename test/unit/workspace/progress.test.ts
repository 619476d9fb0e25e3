import { describe, expect, it } from 'vitest'
import { createProgressMeter, type CopyProgress } from '../../../src/workspace/progress.js'

describe('createProgressMeter', () => {
  it('reports the first step at once, then nothing until the interval passes, then the end', () => {
    const seen: CopyProgress[] = []
    const meter = createProgressMeter((progress) => seen.push(progress), 60_000)
    meter.found(1000)
    for (let i = 0; i < 1000; i++) meter.handled(10)
    meter.flush()
    expect(seen).toEqual([
      { files: 1, bytes: 10, total: 1000 },
      { files: 1000, bytes: 10_000, total: 1000 },
    ])
  })

  it('does not repeat an unchanged final state', () => {
    const seen: CopyProgress[] = []
    const meter = createProgressMeter((progress) => seen.push(progress))
    meter.found(1)
    meter.handled(5)
    meter.flush()
    expect(seen).toEqual([{ files: 1, bytes: 5, total: 1 }])
  })
})
