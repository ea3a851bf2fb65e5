// The signed request's timestamp window, at its edges: the contract rejects "more than 300 s" from the server's
// clock, so exactly 300 s either way is inside, whatever fraction of its second the server's clock is in.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { insideTimestampWindow } from './authenticate.ts'

it('takes a timestamp 300 s either side of the clock and refuses 301, at any point of the current second', () => {
  for (const nowMs of [1_800_000_000_000, 1_800_000_000_001, 1_800_000_000_999]) {
    const now = 1_800_000_000
    for (const offset of [-300, -1, 0, 1, 300]) assert.ok(insideTimestampWindow(now + offset, nowMs), `${offset} at ${nowMs}`)
    for (const offset of [-301, 301, -3_600]) assert.ok(!insideTimestampWindow(now + offset, nowMs), `${offset} at ${nowMs}`)
  }
})
