// One call at a time per key on this node: a caller that finds one under way shares its outcome instead of
// starting another. The checkout uses it so that a customer tapping twice, or anyone holding an order's public pay
// link and posting in a loop, makes one call to the channel, not one per request, while the channel is slow.
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>()

  run(key: string, call: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key)
    if (running) return running
    const started = call().finally(() => this.#running.delete(key))
    this.#running.set(key, started)
    return started
  }

  get size(): number {
    return this.#running.size
  }
}
