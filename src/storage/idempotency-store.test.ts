// The Idempotency-Key store on both databases, through the server's own write path (Storage: the writer
// thread's group commit on SQLite, autocommit on PostgreSQL).
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../test/helpers/fresh-database.ts'
import { ABANDONED_CLAIM_MS } from './idempotency-store.ts'

const TTL = 24 * 60 * 60 * 1000
const t0 = Date.UTC(2026, 10, 27, 12)

describeEachStorage('SqlIdempotencyStore', (t) => {
  it('claims a key once; its stored answer is found until it expires, then the key is free again', async () => {
    const keys = t.storage.idempotency
    assert.equal(await keys.claim('mch_a', 'test', 'k-1', 'hash-1', 'req_a', t0, TTL), true)
    assert.equal(await keys.claim('mch_a', 'test', 'k-1', 'hash-1', 'req_a', t0 + 1, TTL), false, 'held by the first request')
    assert.deepEqual(await keys.find('mch_a', 'test', 'k-1', t0 + 1), { requestHash: 'hash-1', statusCode: 0, body: 'req_a' })
    await keys.complete('mch_a', 'test', 'k-1', 'req_a', 201, '{"id":"ord_1"}')
    assert.deepEqual(await keys.find('mch_a', 'test', 'k-1', t0 + 2), { requestHash: 'hash-1', statusCode: 201, body: '{"id":"ord_1"}' })
    // Another merchant, or the other mode, has keys of its own.
    assert.equal(await keys.claim('mch_b', 'test', 'k-1', 'hash-1', 'req_a', t0 + 3, TTL), true)
    assert.equal(await keys.claim('mch_a', 'live', 'k-1', 'hash-1', 'req_a', t0 + 3, TTL), true)
    assert.equal(await keys.claim('mch_a', 'test', 'k-1', 'hash-2', 'req_a', t0 + TTL - 1, TTL), false, 'a completed key holds its answer')
    assert.equal(await keys.find('mch_a', 'test', 'k-1', t0 + TTL), null)
    assert.equal(await keys.claim('mch_a', 'test', 'k-1', 'hash-2', 'req_a', t0 + TTL, TTL), true, 'expired: free for a new request')
  })

  it('a released claim is free at once; a completed one is not released', async () => {
    const keys = t.storage.idempotency
    assert.equal(await keys.claim('mch_a', 'test', 'k-2', 'hash', 'req_a', t0, TTL), true)
    await keys.release('mch_a', 'test', 'k-2', 'req_a')
    assert.equal(await keys.find('mch_a', 'test', 'k-2', t0), null)
    assert.equal(await keys.claim('mch_a', 'test', 'k-2', 'hash', 'req_a', t0 + 1, TTL), true)
    await keys.complete('mch_a', 'test', 'k-2', 'req_a', 200, '{}')
    await keys.release('mch_a', 'test', 'k-2', 'req_a')
    assert.equal((await keys.find('mch_a', 'test', 'k-2', t0 + 2))?.statusCode, 200)
  })

  it('a claim abandoned mid-request may be taken over after a minute, not before; then it is the new owner\'s', async () => {
    const keys = t.storage.idempotency
    assert.equal(await keys.claim('mch_a', 'test', 'k-3', 'hash', 'req_a', t0, TTL), true)
    assert.equal(await keys.claim('mch_a', 'test', 'k-3', 'hash', 'req_b', t0 + ABANDONED_CLAIM_MS, TTL), false)
    assert.equal(await keys.claim('mch_a', 'test', 'k-3', 'hash', 'req_b', t0 + ABANDONED_CLAIM_MS + 1, TTL), true)
    // The first request was slow, not gone: it neither frees nor answers for the claim that is now B's.
    await keys.release('mch_a', 'test', 'k-3', 'req_a')
    await keys.complete('mch_a', 'test', 'k-3', 'req_a', 409, '{"first":true}')
    assert.deepEqual(await keys.find('mch_a', 'test', 'k-3', t0 + ABANDONED_CLAIM_MS + 2), { requestHash: 'hash', statusCode: 0, body: 'req_b' })
    await keys.complete('mch_a', 'test', 'k-3', 'req_b', 200, '{"second":true}')
    assert.equal((await keys.find('mch_a', 'test', 'k-3', t0 + ABANDONED_CLAIM_MS + 3))?.body, '{"second":true}')
  })

  it('releaseUnfinished gives back the claims in progress that expire after a time, and nothing answered', async () => {
    const keys = t.storage.idempotency
    // Days after the other tests' claims, which this must not see.
    const t1 = t0 + 10 * TTL
    assert.equal(await keys.claim('mch_r', 'test', 'old', 'hash', 'req_a', t1, TTL), true)
    assert.equal(await keys.claim('mch_r', 'test', 'new', 'hash', 'req_b', t1 + 30_000, TTL), true)
    assert.equal(await keys.claim('mch_r', 'live', 'done', 'hash', 'req_c', t1 + 40_000, TTL), true)
    await keys.complete('mch_r', 'live', 'done', 'req_c', 201, '{}')
    assert.equal(await keys.releaseUnfinished(t1 + TTL + 10_000), 1)
    assert.equal(await keys.find('mch_r', 'test', 'new', t1 + 50_000), null, 'given back: a retry runs afresh')
    assert.equal((await keys.find('mch_r', 'test', 'old', t1 + 50_000))?.statusCode, 0, 'older than asked for: left to the takeover')
    assert.equal((await keys.find('mch_r', 'live', 'done', t1 + 50_000))?.statusCode, 201, 'an answered key keeps its answer')
  })

  it('of concurrent claims of one key, exactly one wins', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => t.storage.idempotency.claim('mch_a', 'test', 'k-race', 'hash', 'req_a', t0, TTL)))
    assert.equal(results.filter(Boolean).length, 1)
  })

  it("writes through Storage's shared write path, not on a commit of their own", async () => {
    // On SQLite, writeCompiled joins the writer's group commit; before, each of these was a commit and an
    // fsync of its own, and a keyed create cost ~5 × one without a key.
    const sent: string[] = []
    const storage = t.storage
    const original = storage.writeCompiled
    const write = original.bind(storage)
    storage.writeCompiled = (query) => {
      sent.push(query.sql.trimStart().split(' ')[0]!.toLowerCase())
      return write(query)
    }
    try {
      await t.storage.idempotency.claim('mch_a', 'test', 'k-4', 'hash', 'req_a', t0, TTL)
      await t.storage.idempotency.complete('mch_a', 'test', 'k-4', 'req_a', 201, '{}')
      await t.storage.idempotency.release('mch_a', 'test', 'k-5', 'req_a')
    } finally {
      storage.writeCompiled = original
    }
    assert.deepEqual(sent, ['insert', 'update', 'delete'])
  })
})
