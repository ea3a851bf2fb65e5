// The merchant API over real HTTP, on SQLite and PostgreSQL: orders, validation, idempotency, isolation.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { it } from 'node:test'
import { REQUEST_TIMEOUT_MS } from '../src/http/app.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api, ORDER } from './helpers/server.ts'
import { assertUnchanged, snapshot } from './helpers/snapshot.ts'

describeEachDatabase('orders API', (t) => {
  const sk = () => t.server.merchant.test.secret
  const url = () => t.server.url

  it('creates an order with the contract shape, then gets it by id and by out_trade_no', async () => {
    const body = {
      out_trade_no: 'shape-1', amount: 1234, currency: 'CNY', subject: 'Latte', description: 'oat milk',
      notify_url: 'https://shop.example/hooks', return_url: 'https://shop.example/orders/1', expires_in: 600,
      channels: ['wechatpay', 'alipay'], metadata: { table: '7' },
    }
    const res = await api(url(), sk(), 'POST', '/v1/orders', body)
    assert.equal(res.status, 201)
    assert.match(res.headers.get('x-request-id') ?? '', /^req_/)
    const o = res.body
    assert.match(o.id, /^ord_/)
    assert.equal(o.object, 'order')
    assert.equal(o.mode, 'test')
    assert.equal(o.status, 'pending')
    assert.equal(o.amount, 1234)
    assert.equal(o.amount_refunded, 0)
    assert.equal(o.description, 'oat milk')
    assert.deepEqual(o.metadata, { table: '7' })
    assert.equal(o.channel, null)
    assert.equal(o.paid_at, null)
    const token = new URL(o.pay_url).pathname.split('/')[2]
    assert.ok(token && token.length >= 22, 'token carries at least 128 bits')
    assert.equal(o.pay_url, `${url()}/pay/${token}`)
    assert.deepEqual(o.qr_code, { content: o.pay_url, svg_url: `${o.pay_url}/qr.svg`, png_url: `${o.pay_url}/qr.png` })
    assert.equal(Date.parse(o.expires_at) - Date.parse(o.created_at), 600_000)
    const keys = ['id', 'object', 'mode', 'status', 'out_trade_no', 'amount', 'amount_refunded', 'currency', 'subject', 'description', 'metadata', 'pay_url', 'qr_code', 'channel', 'channel_trade_no', 'notify_url', 'return_url', 'created_at', 'expires_at', 'paid_at', 'closed_at']
    assert.deepEqual(Object.keys(o).sort(), keys.sort())

    const got = await api(url(), sk(), 'GET', `/v1/orders/${o.id}`)
    assert.equal(got.status, 200)
    assert.deepEqual(got.body, o)
    const byNo = await api(url(), sk(), 'GET', '/v1/orders?out_trade_no=shape-1')
    assert.equal(byNo.body.data.length, 1)
    assert.equal(byNo.body.data[0].id, o.id)
  })

  it('defaults currency to CNY and expires_in to 900 s', async () => {
    const res = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'defaults-1' })
    assert.equal(res.status, 201)
    assert.equal(res.body.currency, 'CNY')
    assert.equal(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at), 900_000)
  })

  it('is idempotent on out_trade_no: same parameters 200 with the same order, different ones 409', async () => {
    const first = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'idem-1' })
    assert.equal(first.status, 201)
    const again = await api(url(), sk(), 'POST', '/v1/orders', { subject: 'Latte', amount: 1234, out_trade_no: 'idem-1', currency: 'CNY' })
    assert.equal(again.status, 200)
    assert.deepEqual(again.body, first.body)
    const before = await snapshot(t.server)
    const conflict = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'idem-1', amount: 999 })
    assert.equal(conflict.status, 409)
    assert.equal(conflict.body.error.code, 'out_trade_no_conflict')
    assert.equal(conflict.body.error.type, 'conflict')
    await assertUnchanged(t.server, before)
  })

  it('creates exactly one order from 50 concurrent identical requests', async () => {
    const body = { ...ORDER, out_trade_no: 'race-50' }
    const results = await Promise.all(Array.from({ length: 50 }, () => api(url(), sk(), 'POST', '/v1/orders', body)))
    assert.ok(results.every((r) => r.status === 200 || r.status === 201), JSON.stringify(results.map((r) => r.status)))
    assert.equal(results.filter((r) => r.status === 201).length, 1)
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1)
    const list = await api(url(), sk(), 'GET', '/v1/orders?out_trade_no=race-50')
    assert.equal(list.body.data.length, 1)
  })

  it('creates exactly one order from 50 concurrent requests sharing an Idempotency-Key', async () => {
    const body = { ...ORDER, out_trade_no: 'race-key' }
    const results = await Promise.all(
      Array.from({ length: 50 }, () => api(url(), sk(), 'POST', '/v1/orders', body, { 'idempotency-key': 'k-race' })),
    )
    assert.ok(results.every((r) => r.status === 200 || r.status === 201))
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1)
  })

  it('runs a request once under 20 concurrent uses of one Idempotency-Key with different bodies', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: `key-race-${i}` }, { 'idempotency-key': 'k-diff' })),
    )
    assert.equal(results.filter((r) => r.status === 201).length, 1, JSON.stringify(results.map((r) => r.status)))
    assert.ok(results.filter((r) => r.status !== 201).every((r) => r.status === 409 && r.body.error.code === 'idempotency_key_reused'))
    const created = await Promise.all(Array.from({ length: 20 }, (_, i) => api(url(), sk(), 'GET', `/v1/orders?out_trade_no=key-race-${i}`)))
    assert.equal(created.filter((r) => r.body.data.length === 1).length, 1, 'only the request that answered 201 wrote an order')
  })

  it('lets a retry run afresh after the first use of a key failed', async () => {
    const h = { 'idempotency-key': 'k-after-error' }
    assert.equal((await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'key-err' })).status, 201)
    const before = await snapshot(t.server)
    const conflict = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'key-err', amount: 99 }, h)
    assert.equal(conflict.status, 409)
    await assertUnchanged(t.server, before)
    const retry = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'key-err-2' }, h)
    assert.equal(retry.status, 201, 'the failed first use left the key free')
  })

  it('replays the first response for a reused Idempotency-Key and refuses it with another body', async () => {
    const h = { 'idempotency-key': 'key-abc' }
    const first = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'ik-1' }, h)
    assert.equal(first.status, 201)
    const replay = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'ik-1' }, h)
    assert.equal(replay.status, 201, 'the first response, status included')
    assert.deepEqual(replay.body, first.body)
    const before = await snapshot(t.server)
    const reused = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'ik-2' }, h)
    assert.equal(reused.status, 409)
    assert.equal(reused.body.error.code, 'idempotency_key_reused')
    await assertUnchanged(t.server, before)
    const tooLong = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'ik-3' }, { 'idempotency-key': 'x'.repeat(256) })
    assert.equal(tooLong.status, 400)
    assert.equal(tooLong.body.error.param, 'Idempotency-Key')
  })

  const invalid: [string, unknown, string, string][] = [
    ['amount as float', { ...ORDER, amount: 12.34 }, 'amount', 'amount_invalid'],
    ['amount as string', { ...ORDER, amount: '1234' }, 'amount', 'amount_invalid'],
    ['amount zero', { ...ORDER, amount: 0 }, 'amount', 'amount_invalid'],
    ['amount too large', { ...ORDER, amount: 100_000_000_001 }, 'amount', 'amount_invalid'],
    ['amount missing', { out_trade_no: 'x', subject: 's' }, 'amount', 'parameter_missing'],
    ['out_trade_no with space', { ...ORDER, out_trade_no: 'a b' }, 'out_trade_no', 'parameter_invalid'],
    ['out_trade_no too long', { ...ORDER, out_trade_no: 'a'.repeat(65) }, 'out_trade_no', 'parameter_invalid'],
    ['subject empty', { ...ORDER, subject: '' }, 'subject', 'parameter_invalid'],
    ['subject too long', { ...ORDER, subject: 's'.repeat(129) }, 'subject', 'parameter_invalid'],
    ['subject of spaces only', { ...ORDER, subject: ' \u3000 ' }, 'subject', 'parameter_invalid'],
    ['subject with a control character', { ...ORDER, subject: 'Latte\u0007' }, 'subject', 'parameter_invalid'],
    ['subject with a line break', { ...ORDER, subject: 'Latte\nsmall' }, 'subject', 'parameter_invalid'],
    // Would read "abcexe.png" on the customer's page.
    ['subject with a right-to-left override', { ...ORDER, subject: 'abc\u202Egnp.exe' }, 'subject', 'parameter_invalid'],
    ['subject of invisible marks only', { ...ORDER, subject: '\u200B\u200F \u2066\u2069\uFEFF' }, 'subject', 'parameter_invalid'],
    ['subject of blank letters only', { ...ORDER, subject: '\u00AD\u3164\u2800\uFE0F\u{E0041}' }, 'subject', 'parameter_invalid'],
    ['subject with a line separator', { ...ORDER, subject: 'Latte\u2028small' }, 'subject', 'parameter_invalid'],
    ['description too long', { ...ORDER, description: 'd'.repeat(513) }, 'description', 'parameter_invalid'],
    ['description with a control character', { ...ORDER, description: 'oat\u001Bmilk' }, 'description', 'parameter_invalid'],
    ['currency lower case', { ...ORDER, currency: 'cny' }, 'currency', 'parameter_invalid'],
    ['currency not ISO 4217', { ...ORDER, currency: 'RMB' }, 'currency', 'parameter_invalid'],
    ['expires_in too short', { ...ORDER, expires_in: 59 }, 'expires_in', 'parameter_invalid'],
    ['expires_in too long', { ...ORDER, expires_in: 86_401 }, 'expires_in', 'parameter_invalid'],
    ['notify_url not http', { ...ORDER, notify_url: 'ftp://x.example/' }, 'notify_url', 'parameter_invalid'],
    ['return_url too long', { ...ORDER, return_url: 'https://x.example/' + 'a'.repeat(1010) }, 'return_url', 'parameter_invalid'],
    ['return_url with a user name and password', { ...ORDER, return_url: 'https://user:pass@shop.example/' }, 'return_url', 'parameter_invalid'],
    ['unknown channel', { ...ORDER, channels: ['paypal'] }, 'channels.0', 'parameter_invalid'],
    ['metadata value not string', { ...ORDER, metadata: { a: 1 } }, 'metadata.a', 'parameter_invalid'],
    ['metadata key too long', { ...ORDER, metadata: { ['k'.repeat(41)]: 'v' } }, 'metadata', 'parameter_invalid'],
    ['metadata too many keys', { ...ORDER, metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) }, 'metadata', 'parameter_invalid'],
    ['metadata value too long', { ...ORDER, metadata: { a: 'v'.repeat(501) } }, 'metadata.a', 'parameter_invalid'],
    ['unknown field', { ...ORDER, tip: 1 }, 'tip', 'parameter_unknown'],
  ]
  for (const [name, body, param, code] of invalid) {
    it(`rejects ${name} with 400 and changes nothing`, async () => {
      const before = await snapshot(t.server)
      const res = await api(url(), sk(), 'POST', '/v1/orders', body)
      assert.equal(res.status, 400, JSON.stringify(res.body))
      assert.equal(res.body.error.type, 'invalid_request')
      assert.equal(res.body.error.code, code)
      assert.equal(res.body.error.param, param)
      assert.match(res.body.error.request_id, /^req_/)
      assert.equal(res.headers.get('x-request-id'), res.body.error.request_id)
      await assertUnchanged(t.server, before)
    })
  }

  it('takes text a customer can read as written: other scripts, emoji, isolates, a description on several lines', async () => {
    const body = { ...ORDER, out_trade_no: 'text-1', subject: 'قهوة ☕ 拿铁 «Latte»', description: 'Oat milk\n\tExtra hot\r\nשלום \u2067עברית\u2069' }
    const res = await api(url(), sk(), 'POST', '/v1/orders', body)
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.deepEqual([res.body.subject, res.body.description], [body.subject, body.description])
  })

  it('rejects malformed JSON, a fractional amount, a non-object body, a wrong media type and a body over 64 KiB', async () => {
    const before = await snapshot(t.server)
    const bad = await api(url(), sk(), 'POST', '/v1/orders', '{"amount": 12,')
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.code, 'body_invalid')
    const arr = await api(url(), sk(), 'POST', '/v1/orders', '[1,2]')
    assert.equal(arr.status, 400)
    for (const raw of ['{"out_trade_no":"f-1","amount":12.0,"subject":"s"}', '{"out_trade_no":"f-2","amount":1e3,"subject":"s"}']) {
      const r = await api(url(), sk(), 'POST', '/v1/orders', raw)
      assert.equal(r.status, 400, raw)
      assert.equal(r.body.error.code, 'amount_invalid', raw)
      assert.equal(r.body.error.param, 'amount', raw)
    }
    const media = await api(url(), sk(), 'POST', '/v1/orders', 'amount=1', { 'content-type': 'text/plain' })
    assert.equal(media.status, 415)
    assert.equal(media.body.error.type, 'invalid_request')
    const huge = await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, description: 'x'.repeat(70_000) })
    assert.equal(huge.status, 413)
    assert.equal(huge.body.error.type, 'invalid_request')
    const hugeText = await api(url(), sk(), 'POST', '/v1/orders', 'x'.repeat(70_000), { 'content-type': 'text/plain' })
    assert.deepEqual([hugeText.status, hugeText.body.error.code], [413, 'body_too_large'])
    // Forms are for the checkout page, not the API: even an empty one is the wrong media type.
    for (const body of ['amount=1&subject=s&out_trade_no=f-4', '']) {
      const form = await api(url(), sk(), 'POST', '/v1/orders', body, { 'content-type': 'application/x-www-form-urlencoded' })
      assert.deepEqual([form.status, form.body.error.code], [415, 'unsupported_media_type'], body)
    }
    await assertUnchanged(t.server, before)
    const quoted = await api(url(), sk(), 'POST', '/v1/orders', JSON.stringify({ out_trade_no: 'f-3', amount: 5, subject: 'say "amount": 1.5' }))
    assert.equal(quoted.status, 201, 'the pattern inside a string is not an amount')
  })

  it('refuses what JSON.parse would let by (an escaped amount key, NUL, a lone surrogate) and NUL or bad encoding in a URL, and changes nothing', async () => {
    const before = await snapshot(t.server)
    const escaped = await api(url(), sk(), 'POST', '/v1/orders', '{"out_trade_no":"e-1","\\u0061mount":12.0,"subject":"s"}')
    assert.deepEqual([escaped.status, escaped.body.error.code, escaped.body.error.param], [400, 'amount_invalid', 'amount'])
    for (const [field, text] of [['subject', 'a\\u0000b'], ['subject', 'a\\ud800b'], ['description', '\\u0000']]) {
      const r = await api(url(), sk(), 'POST', '/v1/orders', `{"out_trade_no":"e-2","amount":100,"subject":"s","${field}":"${text}"}`.replace('"subject":"s","subject"', '"subject"'))
      assert.deepEqual([r.status, r.body.error.code, r.body.error.param], [400, 'parameter_invalid', field], text)
    }
    const malformed = ['/v1/orders?out_trade_no=a%00b', '/v1/orders/ord_%00', '/v1/events?order_id=%00', '/v1/orders/%E0%A4%A']
    // A malformed escape in the query is refused too, not read as it stands (a filter then matched nothing).
    malformed.push('/v1/orders?out_trade_no=%ZZ', '/v1/orders?out_trade_no=%E0%A4%A', '/v1/events?order_id=ord_%E0%A4')
    for (const path of malformed) {
      const r = await api(url(), sk(), 'GET', path)
      assert.deepEqual([r.status, r.body.error.type, r.body.error.code], [400, 'invalid_request', 'request_invalid'], path)
      assert.equal(r.headers.get('x-request-id'), r.body.error.request_id, path)
    }
    // A metadata key `__proto__` would be lost on its way to storage: refused, not dropped.
    const proto = await api(url(), sk(), 'POST', '/v1/orders', '{"out_trade_no":"e-4","amount":100,"subject":"s","metadata":{"__proto__":"x","constructor":"y"}}')
    assert.deepEqual([proto.status, proto.body.error.code, proto.body.error.param], [400, 'parameter_invalid', 'metadata'])
    // A request must arrive whole in time: a body never finished cannot hold its connection for ever.
    assert.equal(t.server.server.app.server.requestTimeout, REQUEST_TIMEOUT_MS)
    assert.ok(t.server.server.app.server.headersTimeout <= REQUEST_TIMEOUT_MS)
    // Headers over Node's limit: the contract's shape, saying which limit.
    const huge = await rawExchange(url(), `GET /v1/orders HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    assert.match(huge, /^HTTP\/1\.1 431 /)
    assert.match(huge, /"code":"request_invalid","message":"the request's headers are larger than 16 KiB"/)
    // A key written twice is ambiguous: JSON.parse keeps the last, other readers the first.
    const twice = await api(url(), sk(), 'POST', '/v1/orders', '{"out_trade_no":"e-3","amount":100,"amount":200,"subject":"s"}')
    assert.deepEqual([twice.status, twice.body.error.code], [400, 'body_invalid'])
    // A query on a route that reads none is unknown, as on the lists.
    for (const [method, path] of [['POST', '/v1/orders?foo=bar'], ['GET', '/v1/orders/ord_x?expand=refunds'], ['POST', '/v1/orders/ord_x/close?force=1']] as const) {
      const r = await api(url(), sk(), method, path, method === 'POST' && path.startsWith('/v1/orders?') ? { ...ORDER, out_trade_no: 'e-6' } : undefined)
      assert.deepEqual([r.status, r.body.error.code, r.body.error.param], [400, 'parameter_unknown', path.split('?')[1]!.split('=')[0]], path)
    }
    // Bytes that are not UTF-8 would be read as U+FFFD and stored so: refused, whole or cut short.
    for (const bad of [Buffer.from([0xff, 0xfe]), Buffer.from([0xc3])]) {
      const body = Buffer.concat([Buffer.from('{"out_trade_no":"e-5","amount":100,"subject":"s'), bad, Buffer.from('"}')])
      const r = await fetch(`${url()}/v1/orders`, { method: 'POST', headers: { authorization: `Bearer ${sk()}`, 'content-type': 'application/json' }, body })
      const answer = await r.json()
      assert.deepEqual([r.status, answer.error.code, answer.error.message], [400, 'body_invalid', 'the body is not valid UTF-8'])
    }
    // Ids longer than any ScanPay issues reach their route: a 400 naming the field, not the router's refusal.
    const long = await api(url(), sk(), 'GET', `/v1/orders/ord_${'a'.repeat(120)}`)
    assert.deepEqual([long.status, long.body.error.code, long.body.error.param], [400, 'parameter_invalid', 'id'])
    // A callback for a channel ScanPay does not have: the contract's error shape, not plain text.
    const noChannel = await fetch(`${url()}/channels/nope/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    assert.equal(noChannel.status, 404)
    const noChannelBody = (await noChannel.json()) as { error: { code: string; request_id: string } }
    assert.deepEqual([noChannelBody.error.code, noChannelBody.error.request_id], ['route_missing', noChannel.headers.get('x-request-id')])
    // The list filter holds out_trade_no to the rule a create does; a cursor we never handed out is cursor_invalid.
    const spaced = await api(url(), sk(), 'GET', '/v1/orders?out_trade_no=a%20b')
    assert.deepEqual([spaced.status, spaced.body.error.code, spaced.body.error.param], [400, 'parameter_invalid', 'out_trade_no'])
    for (const cursor of ['garbage', 'x'.repeat(3_000)]) {
      const r = await api(url(), sk(), 'GET', `/v1/orders?cursor=${cursor}`)
      assert.deepEqual([r.status, r.body.error.code, r.body.error.param], [400, 'cursor_invalid', 'cursor'], cursor.slice(0, 10))
    }
    await assertUnchanged(t.server, before)
    // Not HTTP at all: still the contract's error shape.
    const reply = await rawExchange(url(), 'GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n')
    assert.match(reply, /^HTTP\/1\.1 400 /)
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))
    assert.deepEqual([body.error.type, body.error.code], ['invalid_request', 'request_invalid'])
    assert.match(reply, new RegExp(`x-request-id: ${body.error.request_id}`))
  })

  it('lists newest first with cursor pagination and filters', async () => {
    const m = await t.server.newMerchant('Lister')
    const s = m.test.secret
    const ids: string[] = []
    for (let i = 0; i < 7; i++) {
      const r = await api(url(), s, 'POST', '/v1/orders', { ...ORDER, out_trade_no: `list-${i}` })
      ids.push(r.body.id)
    }
    await api(url(), s, 'POST', `/v1/orders/${ids[2]}/close`)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: any = await api(url(), s, 'GET', `/v1/orders?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      assert.equal(page.status, 200)
      assert.equal(page.body.object, 'list')
      seen.push(...page.body.data.map((o: any) => o.id))
      cursor = page.body.has_more ? page.body.next_cursor : null
      if (!page.body.has_more) assert.equal(page.body.next_cursor, null)
    } while (cursor)
    assert.deepEqual(seen, [...ids].reverse())
    const closed = await api(url(), s, 'GET', '/v1/orders?status=closed')
    assert.deepEqual(closed.body.data.map((o: any) => o.id), [ids[2]])
    const future = await api(url(), s, 'GET', `/v1/orders?created_gte=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
    assert.equal(future.body.data.length, 0)
    const past = await api(url(), s, 'GET', `/v1/orders?created_lt=${Math.floor(Date.now() / 1000) + 60}&limit=100`)
    assert.equal(past.body.data.length, 7)
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'status=done', 'cursor=zzz', 'created_gte=yesterday', 'created_gte=2026-11-26T10:00:00', 'colour=red', 'created_gte=2026-02-30', 'created_lt=2026-02-31T10:00:00Z', 'created_lt=2026-04-31']) {
      const r = await api(url(), s, 'GET', `/v1/orders?${q}`)
      assert.equal(r.status, 400, q)
      assert.equal(r.body.error.type, 'invalid_request', q)
    }
    const badStatus = await api(url(), s, 'GET', '/v1/orders?status=done')
    assert.deepEqual([badStatus.body.error.param, badStatus.body.error.message], ['status', 'status must be one of pending, paid, expired, closed, partially_refunded, refunded'])
    // A parameter given twice is said to be, not to be of the wrong kind.
    const twice = await api(url(), s, 'GET', '/v1/orders?limit=1&limit=2')
    assert.deepEqual([twice.status, twice.body.error.code, twice.body.error.param, twice.body.error.message], [400, 'parameter_invalid', 'limit', 'limit is given more than once'])
    // An offset's + sent bare arrives as a space: the error says how to write it.
    const bare = await api(url(), s, 'GET', '/v1/orders?created_gte=2026-11-29T00:59:00+08:00')
    assert.equal(bare.status, 400)
    assert.match(bare.body.error.message, /write an offset's \+ as %2B in a query string/)
    assert.equal((await api(url(), s, 'GET', '/v1/orders?created_gte=2026-11-29T00:59:00%2B08:00')).status, 200)
    // A day that does not exist is refused, not rolled into the next month; a leap day is a day.
    const rolled = await api(url(), s, 'GET', '/v1/orders?created_gte=2026-02-30')
    assert.deepEqual([rolled.status, rolled.body.error.param], [400, 'created_gte'])
    assert.equal((await api(url(), s, 'GET', '/v1/orders?created_gte=2028-02-29')).status, 200)
  })

  it('closes a pending order once; closing again returns it unchanged; a paid order answers 409', async () => {
    const o = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'close-1' })).body
    const closed = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/close`)
    assert.equal(closed.status, 200)
    assert.equal(closed.body.status, 'closed')
    assert.ok(closed.body.closed_at)
    const again = await api(url(), sk(), 'POST', `/v1/orders/${o.id}/close`)
    assert.deepEqual(again.body, closed.body)
    const events = await api(url(), sk(), 'GET', `/v1/events?order_id=${o.id}`)
    assert.deepEqual(events.body.data.map((e: any) => e.type), ['order.closed'])

    const p = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'close-2' })).body
    assert.equal((await api(url(), sk(), 'POST', `/v1/test_helpers/orders/${p.id}/pay`)).status, 200)
    const before = await snapshot(t.server)
    const refused = await api(url(), sk(), 'POST', `/v1/orders/${p.id}/close`)
    assert.equal(refused.status, 409)
    assert.equal(refused.body.error.code, 'order_paid')
    await assertUnchanged(t.server, before)
  })

  it('answers 404 for unknown orders, and merchants never see each other’s orders', async () => {
    const mine = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'private-1' })).body
    const other = await t.server.newMerchant('Other')
    const res = await api(url(), other.test.secret, 'GET', `/v1/orders/${mine.id}`)
    assert.equal(res.status, 404)
    assert.equal(res.body.error.type, 'not_found')
    assert.equal((await api(url(), other.test.secret, 'POST', `/v1/orders/${mine.id}/close`)).status, 404)
    assert.equal((await api(url(), other.test.secret, 'GET', '/v1/orders?out_trade_no=private-1')).body.data.length, 0)
    // The same out_trade_no is free for another merchant.
    assert.equal((await api(url(), other.test.secret, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'private-1' })).status, 201)
    assert.equal((await api(url(), sk(), 'GET', '/v1/orders/ord_nope')).status, 404)
  })

  it('keeps test and live apart: live keys never see test orders and may not use the test helpers', async () => {
    const live = t.server.merchant.live.secret
    const testOrder = (await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'mode-1' })).body
    assert.equal((await api(url(), live, 'GET', `/v1/orders/${testOrder.id}`)).status, 404)
    const liveOrder = await api(url(), live, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'mode-1' })
    assert.equal(liveOrder.status, 201, 'out_trade_no is unique per mode')
    assert.equal(liveOrder.body.mode, 'live')
    assert.equal((await api(url(), sk(), 'GET', `/v1/orders/${liveOrder.body.id}`)).status, 404)
    const helper = await api(url(), live, 'POST', `/v1/test_helpers/orders/${liveOrder.body.id}/pay`)
    assert.equal(helper.status, 403)
    assert.equal(helper.body.error.type, 'permission')
    const sandbox = await api(url(), live, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'mode-2', channels: ['sandbox'] })
    assert.equal(sandbox.status, 400)
    assert.equal(sandbox.body.error.param, 'channels')
    // No live channel takes dollars; the sandbox plays any currency in test mode.
    const dollars = await api(url(), live, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'mode-3', currency: 'USD', channels: ['wechatpay'] })
    assert.deepEqual([dollars.status, dollars.body.error.code, dollars.body.error.param], [400, 'channel_unavailable', 'currency'])
    assert.equal((await api(url(), sk(), 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'mode-3', currency: 'USD' })).status, 201)
  })
})

// Time moved by hand, and the expiry job held back (once an hour): what the API says of an order past its
// deadline before the job writes it.
const clock = { offset: 0, now: () => Date.now() + clock.offset }
describeEachDatabase(
  'orders API past the deadline',
  (t) => {
    it('reads a pending order past expires_at as expired, and lists it as pending no more, before the job moves it', async () => {
      const sk = t.server.merchant.test.secret
      const order = (await api(t.server.url, sk, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'late-1', expires_in: 60 })).body
      clock.offset += 61_000
      assert.equal((await t.server.server.ctx.storage.orders.byId(t.server.merchant.merchant_id, 'test', order.id))?.status, 'pending', 'not yet moved')
      assert.equal((await api(t.server.url, sk, 'GET', `/v1/orders/${order.id}`)).body.status, 'expired')
      assert.deepEqual((await api(t.server.url, sk, 'GET', '/v1/orders?status=pending')).body.data, [])
      assert.equal((await api(t.server.url, sk, 'GET', '/v1/orders')).body.data[0].status, 'expired')
      const again = await api(t.server.url, sk, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'late-1', expires_in: 60 })
      assert.deepEqual([again.status, again.body.status], [200, 'expired'])
      const pay = await api(t.server.url, sk, 'POST', `/v1/test_helpers/orders/${order.id}/pay`)
      assert.deepEqual([pay.status, pay.body.error.code], [409, 'order_not_pending'])
    })
  },
  { clock, env: { SCANPAY_JOB_INTERVAL_MS: '3600000' } },
)

/** Writes raw bytes to the server and reads everything it answers until it closes. */
function rawExchange(origin: string, request: string): Promise<string> {
  const { port } = new URL(origin)
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request))
    let text = ''
    socket.on('data', (d) => (text += d))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}
