// Identifiers sort by creation time and tokens are unguessable.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { newId, newToken } from './ids.ts'

describe('ids', () => {
  it('prefixes and orders ids by time', () => {
    const a = newId('ord', 1_700_000_000_000)
    const b = newId('ord', 1_700_000_000_001)
    assert.match(a, /^ord_[0-9a-z]{26}$/)
    assert.ok(a < b)
  })

  it('makes URL-safe tokens of 192 random bits', () => {
    const tokens = new Set(Array.from({ length: 1000 }, newToken))
    assert.equal(tokens.size, 1000)
    for (const t of tokens) assert.match(t, /^[A-Za-z0-9_-]{32}$/)
  })
})
