// A token bucket per key (an API key, a checkout token), in memory: each node limits the traffic it sees.
import { AppError } from '../../core/errors.ts'

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>()
  readonly #burst: number
  /** Past this many keys, buckets that have refilled (idle keys) are dropped, so memory stays bounded. */
  readonly #maxKeys = 50_000

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#burst = perSecond * 2
  }

  /** Takes one token for the key, or throws 429 with the seconds until one is free. */
  take(key: string): void {
    const now = this.now()
    if (this.#buckets.size >= this.#maxKeys && !this.#buckets.has(key)) this.#prune(now)
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now }
    // A clock stepped back (NTP) refills nothing, rather than draining every bucket until it catches up.
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.perSecond)
    bucket.at = now
    this.#buckets.set(key, bucket)
    if (bucket.tokens < 1) {
      const err = new AppError('rate_limited', `more than ${this.perSecond} requests a second for this key`)
      err.headers = { 'retry-after': String(Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond))) }
      throw err
    }
    bucket.tokens -= 1
  }

  #prune(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (Math.max(0, now - b.at) / 1000) * this.perSecond >= this.#burst) this.#buckets.delete(key)
    }
    // None idle (a flood of new keys, or a clock stepped back): the oldest tenth goes, so the map stays bounded
    // and the next keys do not each pay for a scan that frees nothing. A key dropped so starts a fresh bucket.
    if (this.#buckets.size >= this.#maxKeys) {
      let drop = Math.ceil(this.#maxKeys / 10)
      for (const key of this.#buckets.keys()) {
        if (drop-- <= 0) break
        this.#buckets.delete(key)
      }
    }
  }

  get size(): number {
    return this.#buckets.size
  }
}
