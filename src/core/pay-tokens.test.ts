// Pay tokens name their order without revealing it, carry 128 random bits, and only the server's key reads them.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { newId } from './ids.ts'
import { PAY_TOKEN_LENGTH, PayTokens } from './pay-tokens.ts'

describe('PayTokens', () => {
  const tokens = new PayTokens(randomBytes(32))

  it('names its order: the id comes back from the token, for ids of any time', () => {
    for (const at of [0, 1_700_000_000_000, Date.now(), 2 ** 48 - 1]) {
      const id = newId('ord', at)
      const token = tokens.issue(id)
      assert.equal(token.length, PAY_TOKEN_LENGTH)
      assert.match(token, /^[A-Za-z0-9_-]+$/)
      assert.equal(tokens.orderIdOf(token), id)
    }
  })

  it('is new every time, and reveals nothing of the id (no shared prefix between consecutive orders)', () => {
    const now = Date.now()
    const a = tokens.issue(newId('ord', now))
    const b = tokens.issue(newId('ord', now))
    const again = tokens.issue(newId('ord', now))
    assert.notEqual(a, b)
    assert.notEqual(a.slice(0, 8), b.slice(0, 8))
    assert.notEqual(b.slice(0, 8), again.slice(0, 8))
    const id = newId('ord', now)
    assert.notEqual(tokens.issue(id), tokens.issue(id))
  })

  it('reads only tokens of its own key and shape', () => {
    const id = newId('ord')
    const other = new PayTokens(randomBytes(32))
    assert.notEqual(other.orderIdOf(tokens.issue(id)), id)
    assert.equal(tokens.orderIdOf(randomBytes(24).toString('base64url')), null, 'a legacy 32-character token')
    assert.equal(tokens.orderIdOf('x'.repeat(PAY_TOKEN_LENGTH - 1) + '!'), null)
    assert.equal(tokens.orderIdOf(''), null)
  })

  it('refuses what is not an order id', () => {
    assert.throws(() => tokens.issue('pay_01hx0000000000000000000000'), /not an order id/)
  })
})
