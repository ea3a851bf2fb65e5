// Authentication over real HTTP: Bearer, the HMAC scheme, clock skew, nonce replay, and rate limits.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { authorizationHeader } from '../sdk/src/signing.ts'
import { sha256Hex } from '../src/security/credentials.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api, ORDER, signedApi } from './helpers/server.ts'
import { assertUnchanged, snapshot } from './helpers/snapshot.ts'

describeEachDatabase('authentication', (t) => {
  const url = () => t.server.url
  const key = () => t.server.merchant.test

  it('accepts a signed request, GET with a query and POST with a body', async () => {
    const created = await signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'hmac-1' })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const listed = await signedApi(url(), key(), 'GET', '/v1/orders?out_trade_no=hmac-1&limit=5')
    assert.equal(listed.status, 200)
    assert.equal(listed.body.data[0].id, created.body.id)
  })

  it('rejects a missing, malformed or wrong credential with 401 authentication', async () => {
    const cases: Record<string, string | undefined> = {
      none: undefined,
      'unknown bearer': 'Bearer sk_test_' + 'x'.repeat(43),
      'bearer not a secret': 'Bearer hello',
      'basic auth': 'Basic dXNlcjpwYXNz',
      'hmac missing fields': 'SCANPAY-HMAC-SHA256 key_id="key_test_x",timestamp="1"',
    }
    for (const [name, authorization] of Object.entries(cases)) {
      const res = await fetch(`${url()}/v1/orders`, { headers: authorization ? { authorization } : {} })
      const body = (await res.json()) as any
      assert.equal(res.status, 401, name)
      assert.equal(body.error.type, 'authentication', name)
      assert.ok(res.headers.get('x-request-id'), name)
    }
    // No credentials at all: said first, whatever the body would have been refused for.
    for (const [type, body] of [['application/json', '{"amount":'], ['text/plain', 'x'], ['application/json', '[]']] as const) {
      const res = await fetch(`${url()}/v1/orders`, { method: 'POST', headers: { 'content-type': type }, body })
      const answer = (await res.json()) as any
      assert.deepEqual([res.status, answer.error.type, answer.error.code], [401, 'authentication', 'authentication_required'], `${type} ${body}`)
    }
  })

  it('reads the scheme in any case, as HTTP has it, and says which credential was sent in place of a secret', async () => {
    const lower = await fetch(`${url()}/v1/orders?limit=1`, { headers: { authorization: `bearer ${key().secret}` } })
    assert.equal(lower.status, 200)
    const timestamp = Math.floor(Date.now() / 1000)
    const header = authorizationHeader(key().key_id, key().secret, { method: 'GET', pathAndQuery: '/v1/orders?limit=1', timestamp, nonce: randomBytes(16).toString('hex'), body: '' })
    const signedLower = await fetch(`${url()}/v1/orders?limit=1`, { headers: { authorization: header.replace('SCANPAY-HMAC-SHA256', 'scanpay-hmac-sha256') } })
    assert.equal(signedLower.status, 200)
    for (const [sent, hint] of [[key().key_id, /that is a key id/], ['whsec_' + 'A'.repeat(44), /that is the webhook signing secret/]] as const) {
      const res = await fetch(`${url()}/v1/orders`, { headers: { authorization: `Bearer ${sent}` } })
      const body = (await res.json()) as any
      assert.equal(res.status, 401)
      assert.match(body.error.message, hint)
    }
  })

  it('refuses a key an operator ended and takes the key that replaced it, Bearer and signed', async () => {
    const m = await t.server.newMerchant('Rolled')
    const store = t.server.server.ctx.storage.merchants
    const secret = 'sk_test_' + randomBytes(30).toString('base64url')
    const box = t.server.server.ctx.box
    const now = Date.now()
    await store.rollKey({ id: 'key_test_' + randomBytes(12).toString('base64url'), merchantId: m.merchant_id, mode: 'test', secretHash: sha256Hex(secret), secretEnc: box.encrypt(secret), revokedAt: null }, now, now)
    const old = await fetch(`${url()}/v1/orders?limit=1`, { headers: { authorization: `Bearer ${m.test.secret}` } })
    assert.equal(old.status, 401)
    assert.equal((await signedApi(url(), m.test, 'GET', '/v1/orders?limit=1')).status, 401)
    const fresh = await fetch(`${url()}/v1/orders?limit=1`, { headers: { authorization: `Bearer ${secret}` } })
    assert.equal(fresh.status, 200)
    assert.equal((await fetch(`${url()}/v1/orders?limit=1`, { headers: { authorization: `Bearer ${m.live.secret}` } })).status, 200, 'the other mode keeps its key')
  })

  it('two key rolls at once leave one key of the mode in force, whichever commits last', async () => {
    const m = await t.server.newMerchant('Rolled twice')
    const store = t.server.server.ctx.storage.merchants
    const box = t.server.server.ctx.box
    const roll = () => {
      const secret = 'sk_test_' + randomBytes(30).toString('base64url')
      return store.rollKey({ id: 'key_test_' + randomBytes(12).toString('base64url'), merchantId: m.merchant_id, mode: 'test', secretHash: sha256Hex(secret), secretEnc: box.encrypt(secret), revokedAt: null }, Date.now(), Date.now())
    }
    for (let i = 0; i < 5; i++) await Promise.all([roll(), roll(), roll()])
    const keys = await store.keysOf(m.merchant_id)
    const now = Date.now()
    const inForce = keys.filter((k) => k.mode === 'test' && (k.revokedAt === null || k.revokedAt > now))
    assert.equal(inForce.length, 1, JSON.stringify(keys))
    assert.ok(keys.every((k) => k.revokedAt === null || k.revokedAt >= k.createdAt), 'no key ends before it was made')
  })

  it('rejects a tampered body, a wrong secret and an unknown key id, and writes nothing', async () => {
    const before = await snapshot(t.server)
    const body = JSON.stringify({ ...ORDER, out_trade_no: 'tamper-1' })
    const timestamp = Math.floor(Date.now() / 1000)
    const nonce = randomBytes(16).toString('hex')
    const authorization = authorizationHeader(key().key_id, key().secret, { method: 'POST', pathAndQuery: '/v1/orders', timestamp, nonce, body })
    const tampered = await fetch(`${url()}/v1/orders`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: body.replace('1234', '1'),
    })
    assert.equal(tampered.status, 401)
    assert.equal(((await tampered.json()) as any).error.code, 'signature_invalid')
    const wrongSecret = await signedApi(url(), { key_id: key().key_id, secret: 'sk_test_wrong' }, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'tamper-2' })
    assert.equal(wrongSecret.status, 401)
    const unknownKey = await signedApi(url(), { key_id: 'key_test_nobody', secret: key().secret }, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'tamper-3' })
    assert.equal(unknownKey.status, 401)
    // A key id no key could have (merchant-directory.test.ts: never looked up nor remembered).
    const absurd = await signedApi(url(), { key_id: `key_test_${'x'.repeat(15_000)}`, secret: key().secret }, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'tamper-4' })
    assert.deepEqual([absurd.status, absurd.body.error.code], [401, 'authentication_invalid'])
    const otherPath = authorizationHeader(key().key_id, key().secret, { method: 'GET', pathAndQuery: '/v1/orders?limit=1', timestamp, nonce: randomBytes(16).toString('hex'), body: '' })
    const moved = await fetch(`${url()}/v1/orders?limit=2`, { headers: { authorization: otherPath } })
    assert.equal(moved.status, 401, 'the query string is signed')
    await assertUnchanged(t.server, before)
  })

  it('rejects a timestamp more than 300 s away, either way', async () => {
    // A few seconds past the window, so that a slow machine (a second or two between reading the clock here and
    // the server reading its own) cannot bring the future timestamp back inside it.
    for (const offset of [-305, 305]) {
      const timestamp = Math.floor(Date.now() / 1000) + offset
      const res = await signedApi(url(), key(), 'GET', '/v1/orders', undefined, { timestamp })
      assert.equal(res.status, 401)
      assert.equal(res.body.error.code, 'timestamp_out_of_window')
    }
    const edge = await signedApi(url(), key(), 'GET', '/v1/orders', undefined, { timestamp: Math.floor(Date.now() / 1000) - 290 })
    assert.equal(edge.status, 200)
  })

  it('rejects a replayed nonce, even with a fresh signature, and a nonce of the wrong shape', async () => {
    const nonce = 'replay_' + randomBytes(8).toString('hex')
    const first = await signedApi(url(), key(), 'GET', '/v1/orders', undefined, { nonce })
    assert.equal(first.status, 200)
    const replay = await signedApi(url(), key(), 'GET', '/v1/orders', undefined, { nonce })
    assert.equal(replay.status, 401)
    assert.equal(replay.body.error.code, 'nonce_reused')
    // The same nonce is free for another key.
    const other = await t.server.newMerchant('Nonce Owner')
    assert.equal((await signedApi(url(), other.test, 'GET', '/v1/orders', undefined, { nonce })).status, 200)
    for (const bad of ['short', 'has space in it 12345', 'x'.repeat(65)]) {
      const res = await signedApi(url(), key(), 'GET', '/v1/orders', undefined, { nonce: bad })
      assert.equal(res.status, 401, bad)
    }
  })

  it('a replayed signed create with an Idempotency-Key is refused too, not answered from the stored response', async () => {
    const body = JSON.stringify({ ...ORDER, out_trade_no: 'replay-create-idem' })
    const timestamp = Math.floor(Date.now() / 1000)
    const nonce = randomBytes(16).toString('hex')
    const authorization = authorizationHeader(key().key_id, key().secret, { method: 'POST', pathAndQuery: '/v1/orders', timestamp, nonce, body })
    const headers = { authorization, 'content-type': 'application/json', 'idempotency-key': `idem-${nonce}` }
    const send = () => fetch(`${url()}/v1/orders`, { method: 'POST', headers, body })
    assert.equal((await send()).status, 201)
    const replay = await send()
    assert.equal(replay.status, 401)
    assert.equal(((await replay.json()) as { error: { code: string } }).error.code, 'nonce_reused')
  })

  it('replays of a signed create are refused before anything is written', async () => {
    const body = JSON.stringify({ ...ORDER, out_trade_no: 'replay-create' })
    const timestamp = Math.floor(Date.now() / 1000)
    const nonce = randomBytes(16).toString('hex')
    const authorization = authorizationHeader(key().key_id, key().secret, { method: 'POST', pathAndQuery: '/v1/orders', timestamp, nonce, body })
    const send = () => fetch(`${url()}/v1/orders`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body })
    assert.equal((await send()).status, 201)
    const before = await snapshot(t.server)
    assert.equal((await send()).status, 401)
    await assertUnchanged(t.server, before)
  })

  it('two concurrent signed creates with one nonce: one order is created, the other request is refused', async () => {
    const nonce = 'twin_' + randomBytes(8).toString('hex')
    const [a, b] = await Promise.all(
      ['twin-a', 'twin-b'].map((out) => signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: out }, { nonce })),
    )
    assert.deepEqual([a!.status, b!.status].sort(), [201, 401], JSON.stringify([a!.body, b!.body]))
    const refused = a!.status === 401 ? a! : b!
    assert.equal(refused.body.error.code, 'nonce_reused')
    const found = await Promise.all(['twin-a', 'twin-b'].map((out) => api(url(), key().secret, 'GET', `/v1/orders?out_trade_no=${out}`)))
    assert.deepEqual(found.map((r) => r.body.data.length).sort(), [0, 1])
  })

  it('a nonce a GET used cannot create an order, and the refusal writes nothing', async () => {
    const nonce = 'used_' + randomBytes(8).toString('hex')
    assert.equal((await signedApi(url(), key(), 'GET', '/v1/orders', undefined, { nonce })).status, 200)
    const before = await snapshot(t.server)
    const res = await signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'after-get' }, { nonce })
    assert.equal(res.status, 401)
    assert.equal(res.body.error.code, 'nonce_reused')
    await assertUnchanged(t.server, before)
  })

  it('a signed create that inserts nothing still uses its nonce: refused as invalid, or answered with the existing order', async () => {
    const invalid = 'bad_' + randomBytes(8).toString('hex')
    const bad = await signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, amount: -1, out_trade_no: 'never' }, { nonce: invalid })
    assert.equal(bad.status, 400)
    // Its replay is refused as a replay, not judged again.
    const again = await signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, amount: -1, out_trade_no: 'never' }, { nonce: invalid })
    assert.equal(again.status, 401)
    assert.equal(again.body.error.code, 'nonce_reused')

    assert.equal((await signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'twice' })).status, 201)
    const existing = 'dup_' + randomBytes(8).toString('hex')
    const same = await signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'twice' }, { nonce: existing })
    assert.equal(same.status, 200)
    assert.equal((await signedApi(url(), key(), 'GET', '/v1/orders', undefined, { nonce: existing })).status, 401)

    // Refused after its claim went to the database with the insert (an out_trade_no taken with other terms).
    const conflicting = 'conflict_' + randomBytes(8).toString('hex')
    const conflict = await signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, amount: 99, out_trade_no: 'twice' }, { nonce: conflicting })
    assert.equal(conflict.status, 409)
    const before = await snapshot(t.server)
    const replayed = await signedApi(url(), key(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'fresh-after-conflict' }, { nonce: conflicting })
    assert.equal(replayed.status, 401)
    assert.equal(replayed.body.error.code, 'nonce_reused')
    await assertUnchanged(t.server, before)
  })
})

describeEachDatabase(
  'rate limits',
  (t) => {
    it('answers 429 with Retry-After once a key spends its burst', async () => {
      const sk = t.server.merchant.test.secret
      const results = await Promise.all(Array.from({ length: 30 }, () => api(t.server.url, sk, 'GET', '/v1/orders?limit=1')))
      const limited = results.filter((r) => r.status === 429)
      assert.ok(limited.length > 0, 'some requests were limited')
      assert.equal(limited[0]!.body.error.type, 'rate_limited')
      assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1)
      // Another merchant's key has its own bucket.
      const other = await t.server.newMerchant('Calm')
      assert.equal((await api(t.server.url, other.test.secret, 'GET', '/v1/orders')).status, 200)
    })
  },
  { env: { SCANPAY_RATE_LIMIT: '5' } },
)
