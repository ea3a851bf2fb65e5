// Identifiers sort by creation time.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { newId } from './ids.ts'

describe('ids', () => {
  it('prefixes and orders ids by time', () => {
    const a = newId('ord', 1_700_000_000_000)
    const b = newId('ord', 1_700_000_000_001)
    assert.match(a, /^ord_[0-9a-z]{26}$/)
    assert.ok(a < b)
  })
})
