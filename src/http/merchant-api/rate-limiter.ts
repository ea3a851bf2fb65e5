// A token bucket per API key, in memory: each node limits the traffic it sees.
import { AppError } from '../../core/errors.ts'

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>()
  readonly #burst: number

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#burst = perSecond * 2
  }

  /** Takes one token for the key, or throws 429 with the seconds until one is free. */
  take(key: string): void {
    const now = this.now()
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond)
    bucket.at = now
    this.#buckets.set(key, bucket)
    if (bucket.tokens < 1) {
      const err = new AppError('rate_limited', `more than ${this.perSecond} requests a second for this key`)
      err.headers = { 'retry-after': String(Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond))) }
      throw err
    }
    bucket.tokens -= 1
  }
}
