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
      assert.deepEqual(tokens.orderIdsOf(token), [id])
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
    assert.notDeepEqual(other.orderIdsOf(tokens.issue(id)), [id])
    assert.deepEqual(tokens.orderIdsOf(randomBytes(24).toString('base64url')), [], 'a legacy 32-character token')
    assert.deepEqual(tokens.orderIdsOf('x'.repeat(PAY_TOKEN_LENGTH - 1) + '!'), [])
    assert.deepEqual(tokens.orderIdsOf(''), [])
  })

  it('after a rotation, still names the orders of tokens a previous master key issued, after the current key\'s reading', () => {
    const oldKey = randomBytes(32)
    const newKey = randomBytes(32)
    const id = newId('ord')
    const before = new PayTokens(oldKey).issue(id)
    const rotated = new PayTokens(newKey, [oldKey])
    const ids = rotated.orderIdsOf(before)
    assert.equal(ids.length, 2)
    assert.notEqual(ids[0], id)
    assert.equal(ids[1], id)
    assert.equal(rotated.orderIdsOf(rotated.issue(id))[0], id)
  })

  it('refuses what is not an order id', () => {
    assert.throws(() => tokens.issue('pay_01hx0000000000000000000000'), /not an order id/)
  })
})
