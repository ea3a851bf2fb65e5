// Which Beijing days' bills are out: a day's from 10:00 Beijing time the next day, whatever the server's zone.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readyBillDates } from './daily-bills.ts'

const beijing = (text: string) => Date.parse(`${text}+08:00`)

describe('readyBillDates', () => {
  it('from 10:00 Beijing time: yesterday and the two days before it, newest first', () => {
    assert.deepEqual(readyBillDates(beijing('2026-11-28T10:00:00')), ['2026-11-27', '2026-11-26', '2026-11-25'])
    assert.deepEqual(readyBillDates(beijing('2026-11-28T23:59:59')), ['2026-11-27', '2026-11-26', '2026-11-25'])
  })

  it('before 10:00 Beijing time yesterday\'s bill is not out yet', () => {
    assert.deepEqual(readyBillDates(beijing('2026-11-28T09:59:59')), ['2026-11-26', '2026-11-25', '2026-11-24'])
    // 01:30 UTC is already 09:30 in Beijing: the Beijing day counts, not the UTC one.
    assert.deepEqual(readyBillDates(Date.parse('2026-11-28T01:30:00Z')), ['2026-11-26', '2026-11-25', '2026-11-24'])
  })

  it('across a month and a year', () => {
    assert.deepEqual(readyBillDates(beijing('2027-01-01T10:30:00'), 2), ['2026-12-31', '2026-12-30'])
    assert.deepEqual(readyBillDates(beijing('2026-03-01T11:00:00'), 2), ['2026-02-28', '2026-02-27'])
  })
})
