import { diff3Merge } from 'node-diff3'

// Lines keep their terminators, so a missing final newline merges like any other change.
export function mergeLines(
  ours: readonly string[],
  base: readonly string[],
  theirs: readonly string[],
): string[] | undefined {
  const regions = diff3Merge([...ours], [...base], [...theirs], { excludeFalseConflicts: true })
  const merged: string[] = []
  for (const region of regions) {
    if (region.conflict !== undefined) return undefined
    merged.push(...(region.ok ?? []))
  }
  return merged
}
