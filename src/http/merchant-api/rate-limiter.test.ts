// The per-key token bucket.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../../core/errors.ts'
import { RateLimiter } from './rate-limiter.ts'

describe('rate limiter', () => {
  it('allows a burst of twice the rate, then refuses with Retry-After, then refills', () => {
    let now = 0
    const limiter = new RateLimiter(5, () => now)
    for (let i = 0; i < 10; i++) limiter.take('k')
    assert.throws(
      () => limiter.take('k'),
      (err: unknown) => err instanceof AppError && err.status === 429 && err.headers?.['retry-after'] === '1',
    )
    limiter.take('other')
    now += 1000
    for (let i = 0; i < 5; i++) limiter.take('k')
    assert.throws(() => limiter.take('k'))
  })

  it('a clock stepped back an hour neither drains a bucket nor refills it; it refills from then on', () => {
    let now = 10_000_000
    const limiter = new RateLimiter(5, () => now)
    for (let i = 0; i < 4; i++) limiter.take('k')
    now -= 3_600_000
    for (let i = 0; i < 6; i++) limiter.take('k')
    assert.throws(() => limiter.take('k'))
    now += 1000
    for (let i = 0; i < 5; i++) limiter.take('k')
  })
})

describe('rate limiter memory', () => {
  it('drops idle buckets once it holds many keys', () => {
    let now = 0
    const limiter = new RateLimiter(1, () => now)
    for (let i = 0; i < 50_000; i++) limiter.take(`k${i}`)
    now += 5_000
    limiter.take('new-key')
    assert.ok(limiter.size < 100, `idle buckets pruned, ${limiter.size} left`)
  })

  it('stays bounded when no bucket is idle (a flood of new keys, a clock stepped back), dropping the oldest', () => {
    let now = 10_000_000
    const limiter = new RateLimiter(1, () => now)
    for (let i = 0; i < 50_000; i++) limiter.take(`k${i}`)
    now -= 3_600_000
    for (let i = 0; i < 20_000; i++) limiter.take(`new${i}`)
    assert.ok(limiter.size <= 50_000, `${limiter.size} buckets`)
    // The newest keys keep their buckets: each spent a token, so a burst of two leaves one.
    limiter.take('new19999')
    assert.throws(() => limiter.take('new19999'))
  })
})
