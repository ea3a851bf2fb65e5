// The replay guard's store on both databases: a nonce is claimed once per key until it expires, through the
// server's own write path (Storage: the writer thread's group commit on SQLite, autocommit on PostgreSQL).
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../test/helpers/fresh-database.ts'

const TTL = 15 * 60 * 1000
const t0 = Date.UTC(2026, 10, 26, 12)

describeEachStorage('SqlNonceStore', (t) => {
  it('claims a nonce once per key: again it is refused, for another key it is free', async () => {
    assert.equal(await t.storage.nonces.claim('key_a', 'nonce-0001-abcdefgh', t0, TTL), true)
    assert.equal(await t.storage.nonces.claim('key_a', 'nonce-0001-abcdefgh', t0 + 1, TTL), false)
    assert.equal(await t.storage.nonces.claim('key_b', 'nonce-0001-abcdefgh', t0 + 2, TTL), true)
  })

  it('of concurrent claims of one nonce, exactly one wins', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => t.storage.nonces.claim('key_a', 'nonce-race-abcdefgh', t0, TTL)))
    assert.equal(results.filter(Boolean).length, 1)
  })

  it('frees a nonce once it has expired, and claims it for a new window', async () => {
    assert.equal(await t.storage.nonces.claim('key_c', 'nonce-0002-abcdefgh', t0, TTL), true)
    assert.equal(await t.storage.nonces.claim('key_c', 'nonce-0002-abcdefgh', t0 + TTL - 1, TTL), false)
    assert.equal(await t.storage.nonces.claim('key_c', 'nonce-0002-abcdefgh', t0 + TTL, TTL), true)
    // The new window counts from the second claim.
    assert.equal(await t.storage.nonces.claim('key_c', 'nonce-0002-abcdefgh', t0 + TTL + 1, TTL), false)
  })

  it('purges the expired nonces only', async () => {
    await t.storage.nonces.claim('key_d', 'nonce-old-abcdefgh', t0 - TTL, TTL)
    await t.storage.nonces.claim('key_d', 'nonce-new-abcdefgh', t0, TTL)
    assert.ok((await t.storage.nonces.purgeExpired(t0)) >= 1)
    const left = await t.database.db.selectFrom('nonces').select('nonce').where('key_id', '=', 'key_d').execute()
    assert.deepEqual(left.map((r) => r.nonce), ['nonce-new-abcdefgh'])
  })
})
