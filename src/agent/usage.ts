import type { Usage } from './types.js'

export const zeroUsage: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 }

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  }
}
