/** Copy-in progress: entries handled (copied or skipped), bytes copied, entries known so far. */
export interface CopyProgress {
  files: number
  bytes: number
  total: number
}

export interface ProgressMeter {
  /** More entries are known (a walk grows the total as it goes). */
  found(count: number): void
  /** One entry is handled; `bytes` were copied for it. */
  handled(bytes: number): void
  /** Reports the final state, whatever the throttle says. */
  flush(): void
}

// Throttled so a 100,000-file copy does not flood the caller (and the bus behind it).
export function createProgressMeter(
  onProgress: ((progress: CopyProgress) => void) | undefined,
  intervalMs = 100,
): ProgressMeter {
  const state: CopyProgress = { files: 0, bytes: 0, total: 0 }
  let last = Number.NEGATIVE_INFINITY
  let dirty = false

  const emit = (): void => {
    last = performance.now()
    dirty = false
    onProgress?.({ ...state })
  }

  return {
    found(count) {
      state.total += count
      dirty = true
    },
    handled(bytes) {
      state.files++
      state.bytes += bytes
      dirty = true
      if (onProgress !== undefined && performance.now() - last >= intervalMs) emit()
    },
    flush() {
      if (onProgress !== undefined && dirty) emit()
    },
  }
}
