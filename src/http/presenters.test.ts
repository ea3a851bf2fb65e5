// isoTime writes times itself, from a cached day: it must agree with Date#toISOString everywhere.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isoTime } from './presenters.ts'

describe('isoTime', () => {
  it('writes what toISOString writes', () => {
    const day = 86_400_000
    const edges = [0, 1, 9, 10, 99, 100, 999, 1000, day - 1, day, day + 1, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000, -1, -day, 8.64e15]
    const random = Array.from({ length: 20_000 }, () => Math.floor(Math.random() * 253_402_300_800_000))
    // Runs of nearby times, as on a page, reuse the cached day; alternating days must not mix them up.
    const nearby = Array.from({ length: 2_000 }, (_, i) => 1_764_150_000_000 + (i % 2) * day + i * 997)
    for (const ms of [...edges, ...random, ...nearby]) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
  })

  it('leaves what it does not write to toISOString, fractions and invalid times included', () => {
    assert.equal(isoTime(1.5), new Date(1.5).toISOString())
    assert.throws(() => isoTime(Number.NaN), RangeError)
  })
})
