/**
 * A least-recently-used map bounded by the total weight of its values (bytes, entries, …).
 * Only immutable things go in — objects by id, pack objects by offset — so an entry never goes
 * stale; it only ages out.
 */
export class BoundedCache<V> {
  readonly #entries = new Map<string, { value: V; weight: number }>()
  #total = 0

  constructor(
    private readonly maxWeight: number,
    private readonly weigh: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry.value
  }

  // A value heavier than the whole budget is not kept: it would evict everything for one use.
  set(key: string, value: V): void {
    const weight = this.weigh(value)
    const old = this.#entries.get(key)
    if (old !== undefined) {
      this.#entries.delete(key)
      this.#total -= old.weight
    }
    if (weight > this.maxWeight) return
    this.#entries.set(key, { value, weight })
    this.#total += weight
    for (const [oldest, entry] of this.#entries) {
      if (this.#total <= this.maxWeight) break
      this.#entries.delete(oldest)
      this.#total -= entry.weight
    }
  }
}
