import assert from 'node:assert/strict'
import { it } from 'node:test'
import { isCalendarDate } from './calendar-date.ts'

it('takes days that exist and refuses those Date.parse would roll over', () => {
  for (const day of ['2026-11-29', '2028-02-29', '2026-12-31', '2026-01-01']) assert.equal(isCalendarDate(day), true, day)
  for (const day of ['2026-02-29', '2026-02-30', '2026-04-31', '2026-13-01', '2026-00-10', '2026-11-00', '2026-1-1', '20261129', '2026-11-29T00:00:00Z']) {
    assert.equal(isCalendarDate(day), false, day)
  }
})
