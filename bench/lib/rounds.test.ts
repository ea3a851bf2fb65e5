import assert from 'node:assert/strict'
import { test } from 'node:test'
import { interleavedRounds, median, medianRound, pairedRatio, throughputs } from './rounds.ts'

test('the median of an odd count is the middle value, of an even count the lower middle', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2)
  assert.equal(median([7]), 7)
  assert.throws(() => median([]), /no values/)
})

test('the median round carries its own latencies', () => {
  const rounds = [
    { throughput: 9_000, p99: 12 },
    { throughput: 7_000, p99: 30 },
    { throughput: 8_000, p99: 18 },
  ]
  assert.deepEqual(medianRound(rounds), { throughput: 8_000, p99: 18 })
})

test('ratios pair the rounds of the same minutes, not the medians of each side', () => {
  // The machine slowed down in round 2 for both: paired, the ratio stays 0.8 in every round.
  const bearer = [{ throughput: 10_000 }, { throughput: 5_000 }, { throughput: 10_000 }]
  const signed = [{ throughput: 8_000 }, { throughput: 4_000 }, { throughput: 8_000 }]
  const { ratios, median: m } = pairedRatio(bearer, signed)
  assert.deepEqual(ratios, [0.8, 0.8, 0.8])
  assert.equal(m, 0.8)
  assert.throws(() => pairedRatio(bearer, signed.slice(1)), /differ in number/)
})

test('interleaved rounds swap who goes first every round, and keep each side in its rounds', async () => {
  const order: string[] = []
  const side = (name: string) => async () => {
    order.push(name)
    return { throughput: order.length }
  }
  const { a, b } = await interleavedRounds(3, side('a'), side('b'))
  assert.deepEqual(order, ['a', 'b', 'b', 'a', 'a', 'b'])
  assert.deepEqual(a.map((r) => r.throughput), [1, 4, 5])
  assert.deepEqual(b.map((r) => r.throughput), [2, 3, 6])
  assert.equal(throughputs([{ throughput: 17150.4 }, { throughput: 966 }]), '17,150, 966')
})
