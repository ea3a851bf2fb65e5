// The contract's retry schedule and its ±10 % jitter.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { nextAttemptAt, RETRY_DELAYS_MS } from './retry-schedule.ts'

describe('retry schedule', () => {
  it('follows 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h then gives up', () => {
    const minutes = RETRY_DELAYS_MS.map((ms) => ms / 60_000)
    assert.deepEqual(minutes, [0.25, 0.25, 0.5, 3, 10, 20, 30, 30, 30, 60, 180, 180, 180, 360, 360])
    assert.equal(nextAttemptAt(RETRY_DELAYS_MS.length + 1, 0), null)
  })

  it('jitters each delay within ±10 %', () => {
    for (const [i, delay] of RETRY_DELAYS_MS.entries()) {
      assert.equal(nextAttemptAt(i + 1, 1000, () => 0), 1000 + Math.round(delay * 0.9))
      assert.equal(nextAttemptAt(i + 1, 1000, () => 0.999999), 1000 + Math.round(delay * (1 + (0.999999 * 0.2 - 0.1))))
      assert.equal(nextAttemptAt(i + 1, 1000, () => 0.5), 1000 + delay)
    }
  })
})
