// At most `limit` calls under way at once per key on this node; one more is refused at once, not queued. The
// checkout keys it by merchant around opening a channel payment: single-flight bounds one order to one call, but
// a flood of orders (a busy sale, or a script holding many pay links) while WeChat Pay or Alipay is slow would
// otherwise hold a socket and a request per tap for as long as the channel takes, and spend the merchant's quota
// at the channel. Refused taps are told to try again in a moment; other merchants are not held up.
export class InFlightCap {
  readonly #running = new Map<string, number>()

  constructor(readonly limit: number) {}

  /** Runs `call` unless `key` has `limit` calls under way already: then null, and `call` is not made. */
  run<T>(key: string, call: () => Promise<T>): Promise<T> | null {
    const running = this.#running.get(key) ?? 0
    if (running >= this.limit) return null
    this.#running.set(key, running + 1)
    const done = () => {
      const left = this.#running.get(key)! - 1
      if (left === 0) this.#running.delete(key)
      else this.#running.set(key, left)
    }
    try {
      return call().finally(done)
    } catch (err) {
      done()
      throw err
    }
  }

  /** Calls under way for `key`. */
  running(key: string): number {
    return this.#running.get(key) ?? 0
  }
}
