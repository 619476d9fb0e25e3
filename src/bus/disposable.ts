/** Anything that holds a subscription or a resource and must be released. */
export interface Disposable {
  dispose(): void
}

export function toDisposable(fn: () => void): Disposable & { [Symbol.dispose](): void } {
  let done = false
  const dispose = (): void => {
    if (done) return
    done = true
    fn()
  }
  return { dispose, [Symbol.dispose]: dispose }
}

/**
 * Owns everything a component subscribed to or allocated; disposing the store releases all of
 * it once, in reverse order. A disposable added after disposal is released at once.
 */
export class DisposableStore implements Disposable {
  private readonly items: Disposable[] = []
  private disposed = false

  get isDisposed(): boolean {
    return this.disposed
  }

  add<T extends Disposable>(item: T): T {
    if (this.disposed) item.dispose()
    else this.items.push(item)
    return item
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    const errors: unknown[] = []
    for (const item of this.items.splice(0).reverse()) {
      try {
        item.dispose()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length === 1) throw errors[0]
    if (errors.length > 1) throw new AggregateError(errors, 'Several disposables failed')
  }

  [Symbol.dispose](): void {
    this.dispose()
  }
}
