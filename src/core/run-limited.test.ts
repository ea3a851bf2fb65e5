// Bounded concurrency: every item once, never more than the limit at a time.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { runLimited } from './run-limited.ts'

it('runs every item once with at most `limit` in flight', async () => {
  let inFlight = 0
  let peak = 0
  const seen: number[] = []
  await runLimited(Array.from({ length: 25 }, (_, i) => i), 4, async (i) => {
    inFlight++
    peak = Math.max(peak, inFlight)
    await new Promise((r) => setTimeout(r, 1 + (i % 3)))
    seen.push(i)
    inFlight--
  })
  assert.equal(peak, 4)
  assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i))
  await runLimited([], 4, async () => assert.fail('no items'))
})
