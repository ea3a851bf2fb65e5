// The client against a scripted local HTTP server: authentication, retries with one Idempotency-Key,
// Retry-After, typed errors, paths and queries.
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach, describe, it } from 'node:test'
import { ScanPay } from './client.ts'
import { ScanPayError } from './errors.ts'
import { parseAuthorization, signRequest } from './signing.ts'
import { backoffMs } from './transport.ts'

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

type Script = (req: Seen, res: ServerResponse, n: number) => void

const SECRET = 'sk_test_' + 'a'.repeat(32)
let server: Server
let base = ''
let seen: Seen[] = []
let script: Script = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      seen.push(s)
      script(s, res, seen.length)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))))
beforeEach(() => {
  seen = []
})

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_test', ...headers }).end(JSON.stringify(body))
}

const apiError = (type: string, code: string, param?: string) => ({
  error: { type, code, message: `${code} happened`, ...(param ? { param } : {}), request_id: 'req_body' },
})

describe('ScanPay client', () => {
  it('sends Bearer auth, JSON bodies and an automatic Idempotency-Key on POST only', async () => {
    script = (req, res) => json(res, req.method === 'POST' ? 201 : 200, { id: 'ord_1', object: 'order' })
    const c = new ScanPay({ baseUrl: base, secret: SECRET })
    const created = await c.orders.create({ out_trade_no: 'A-1', amount: 1234, subject: 'Latte' })
    assert.equal(created.id, 'ord_1')
    await c.orders.retrieve('ord_1')
    assert.equal(seen[0]!.method, 'POST')
    assert.equal(seen[0]!.url, '/v1/orders')
    assert.equal(seen[0]!.headers.authorization, `Bearer ${SECRET}`)
    assert.equal(seen[0]!.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(seen[0]!.body), { out_trade_no: 'A-1', amount: 1234, subject: 'Latte' })
    assert.match(String(seen[0]!.headers['idempotency-key']), /^sdk_[0-9a-f-]{36}$/)
    assert.equal(seen[1]!.url, '/v1/orders/ord_1')
    assert.equal(seen[1]!.headers['idempotency-key'], undefined)
    assert.equal(seen[1]!.body, '')
  })

  it('signs with HMAC when given a key id, with a fresh nonce on every try', async () => {
    script = (req, res, n) => (n === 1 ? json(res, 503, apiError('internal', 'internal_error')) : json(res, 201, { id: 'rfd_1' }))
    const c = new ScanPay({ baseUrl: base, secret: SECRET, keyId: 'key_test_abc', maxRetries: 1 })
    await c.refunds.create('ord_1', { amount: 100, out_refund_no: 'R-1' })
    assert.equal(seen.length, 2)
    const auths = seen.map((s) => parseAuthorization(String(s.headers.authorization)))
    for (const [i, a] of auths.entries()) {
      assert.ok(a, 'a well-formed SCANPAY-HMAC-SHA256 header')
      assert.equal(a.keyId, 'key_test_abc')
      assert.match(a.nonce, /^[A-Za-z0-9_-]{16,64}$/)
      assert.ok(Math.abs(Number(a.timestamp) - Date.now() / 1000) < 5)
      const s = seen[i]!
      assert.equal(a.signature, signRequest(SECRET, { method: 'POST', pathAndQuery: s.url, timestamp: a.timestamp, nonce: a.nonce, body: s.body }))
    }
    assert.notEqual(auths[0]!.nonce, auths[1]!.nonce)
    assert.equal(seen[0]!.headers['idempotency-key'], seen[1]!.headers['idempotency-key'], 'the retry carries the same key')
    assert.equal(seen[0]!.url, '/v1/orders/ord_1/refunds')
  })

  it('refuses a baseUrl that is not http(s), or that ends in /v1, which every path already starts with', () => {
    assert.throws(() => new ScanPay({ baseUrl: 'pay.example', secret: 'sk_test_x' }), /http\(s\) URL/)
    for (const baseUrl of ['https://pay.example/v1', 'https://pay.example/scanpay/v1/']) {
      assert.throws(() => new ScanPay({ baseUrl, secret: 'sk_test_x' }), /without \/v1/, baseUrl)
    }
    assert.doesNotThrow(() => new ScanPay({ baseUrl: 'http://v1', secret: 'sk_test_x' }), 'a host named v1 is a host')
  })

  it('signs the API path, not a path prefix of baseUrl that a proxy in front of ScanPay strips', async () => {
    script = (_req, res) => json(res, 200, { object: 'list', data: [], has_more: false, next_cursor: null })
    const c = new ScanPay({ baseUrl: `${base}/scanpay/`, secret: SECRET, keyId: 'key_test_abc', maxRetries: 0 })
    await c.orders.list({ limit: 5 })
    const s = seen[0]!
    assert.equal(s.url, '/scanpay/v1/orders?limit=5', 'sent under the prefix')
    const a = parseAuthorization(String(s.headers.authorization))!
    assert.equal(a.signature, signRequest(SECRET, { method: 'GET', pathAndQuery: '/v1/orders?limit=5', timestamp: a.timestamp, nonce: a.nonce, body: '' }))
  })

  it('retries 5xx and network errors with the same Idempotency-Key, then succeeds', async () => {
    script = (_req, res, n) => {
      if (n === 1) return res.socket?.destroy()
      if (n === 2) return json(res, 502, apiError('channel_error', 'channel_failed'))
      json(res, 200, { id: 'ord_9', object: 'order', status: 'paid' })
    }
    const c = new ScanPay({ baseUrl: base, secret: SECRET, maxRetries: 2 })
    const paid = await c.testHelpers.payOrder('ord_9', { idempotencyKey: 'mine-1' })
    assert.equal(paid.status, 'paid')
    assert.equal(seen.length, 3)
    assert.ok(seen.every((s) => s.headers['idempotency-key'] === 'mine-1'), 'every try carries the caller\'s key')
  })

  it('waits for the same key\'s earlier try still running (409 idempotency_key_in_use), then has its answer', async () => {
    script = (_req, res, n) => {
      if (n === 1) return json(res, 409, apiError('conflict', 'idempotency_key_in_use', 'Idempotency-Key'))
      json(res, 201, { id: 'ord_7', object: 'order' })
    }
    const c = new ScanPay({ baseUrl: base, secret: SECRET, maxRetries: 2 })
    assert.equal((await c.orders.create({ out_trade_no: 'A-7', amount: 1, subject: 'x' })).id, 'ord_7')
    assert.equal(seen.length, 2)
    assert.equal(seen[0]!.headers['idempotency-key'], seen[1]!.headers['idempotency-key'])
  })

  it('makes a success that is not JSON (a proxy\'s page) a typed error', async () => {
    script = (_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'x-request-id': 'req_proxy' }).end('<html>maintenance</html>')
    const c = new ScanPay({ baseUrl: base, secret: SECRET })
    const err = await c.orders.retrieve('ord_1').catch((e) => e)
    assert.ok(err instanceof ScanPayError, String(err))
    assert.deepEqual([err.code, err.status, err.requestId], ['response_invalid', 200, 'req_proxy'])
  })

  it('does not retry 4xx answers, and makes them typed errors', async () => {
    script = (_req, res) => json(res, 409, apiError('conflict', 'out_trade_no_conflict', 'out_trade_no'))
    const c = new ScanPay({ baseUrl: base, secret: SECRET })
    const err = await c.orders.create({ out_trade_no: 'A-1', amount: 1, subject: 'x' }).catch((e) => e)
    assert.ok(err instanceof ScanPayError)
    assert.equal(err.type, 'conflict')
    assert.equal(err.code, 'out_trade_no_conflict')
    assert.equal(err.param, 'out_trade_no')
    assert.equal(err.status, 409)
    assert.equal(err.requestId, 'req_body')
    assert.equal(err.message, 'out_trade_no_conflict happened')
    assert.equal(seen.length, 1)
  })

  it('honours Retry-After on 429, and gives up when it asks too much', async () => {
    script = (_req, res, n) => (n === 1 ? json(res, 429, apiError('rate_limited', 'rate_limited'), { 'retry-after': '1' }) : json(res, 200, { object: 'list', data: [], has_more: false, next_cursor: null }))
    const c = new ScanPay({ baseUrl: base, secret: SECRET })
    const started = Date.now()
    await c.orders.list()
    assert.equal(seen.length, 2)
    assert.ok(Date.now() - started >= 950, 'waited the second the server asked for')

    seen = []
    script = (_req, res) => json(res, 429, apiError('rate_limited', 'rate_limited'), { 'retry-after': '120' })
    const err = await c.orders.list().catch((e) => e)
    assert.ok(err instanceof ScanPayError)
    assert.equal(err.type, 'rate_limited')
    assert.equal(err.retryAfter, 120)
    assert.equal(seen.length, 1, 'a two-minute wait is the caller\'s decision')
  })

  it('stops after maxRetries and reports the last answer; 0 turns retries and the automatic key off', async () => {
    script = (_req, res) => json(res, 500, apiError('internal', 'internal_error'))
    const c = new ScanPay({ baseUrl: base, secret: SECRET, maxRetries: 1 })
    const err = await c.orders.close('ord_1').catch((e) => e)
    assert.equal(err.code, 'internal_error')
    assert.equal(err.status, 500)
    assert.equal(seen.length, 2)
    seen = []
    const once = new ScanPay({ baseUrl: base, secret: SECRET, maxRetries: 0 })
    await once.orders.close('ord_1').catch(() => {})
    assert.equal(seen.length, 1)
    assert.equal(seen[0]!.headers['idempotency-key'], undefined)
  })

  it('reports a non-ScanPay error body and an unreachable server as typed errors', async () => {
    script = (_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>nope</h1>')
    const c = new ScanPay({ baseUrl: base, secret: SECRET, maxRetries: 0 })
    const err = await c.events.retrieve('evt_1').catch((e) => e)
    assert.equal(err.type, 'not_found')
    assert.equal(err.code, 'unexpected_response')
    assert.match(err.message, /nope/)

    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    const dead = new ScanPay({ baseUrl: `http://127.0.0.1:${port}`, secret: SECRET, maxRetries: 0 })
    const down = await dead.orders.list().catch((e) => e)
    assert.ok(down instanceof ScanPayError)
    assert.equal(down.type, 'connection')
    assert.equal(down.code, 'connection_failed')
    assert.equal(down.status, null)
    assert.match(down.message, /ECONNREFUSED/)
  })

  it('times out a try that gets no answer', async () => {
    script = () => {} // never answers
    const c = new ScanPay({ baseUrl: base, secret: SECRET, maxRetries: 0, timeoutMs: 200 })
    const err = await c.orders.retrieve('ord_1').catch((e) => e)
    assert.equal(err.code, 'timeout')
    assert.equal(err.type, 'connection')
  })

  it('builds every path and query the API defines', async () => {
    script = (req, res) => json(res, 200, req.url.includes('refunds') || req.url.startsWith('/v1/events?') || req.url.startsWith('/v1/orders?') || req.url.startsWith('/v1/bill_checks')
      ? { object: 'list', data: [], has_more: false, next_cursor: null }
      : { id: 'x' })
    const c = new ScanPay({ baseUrl: base + '/', secret: SECRET })
    await c.orders.list({ status: 'paid', created_gte: new Date('2026-01-01T00:00:00Z'), created_lt: 1767225600, limit: 5, out_trade_no: undefined })
    await c.refunds.retrieve('rfd_1')
    await c.refunds.list('ord_1', { limit: 2, cursor: 'abc' })
    await c.events.list({ order_id: 'ord_1' })
    await c.events.redeliver('evt_1')
    await c.billChecks.list({ channel: 'alipay', status: 'discrepancies' })
    await c.orders.retrieve('a/b')
    assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), [
      'GET /v1/orders?status=paid&created_gte=2026-01-01T00%3A00%3A00.000Z&created_lt=1767225600&limit=5',
      'GET /v1/refunds/rfd_1',
      'GET /v1/orders/ord_1/refunds?limit=2&cursor=abc',
      'GET /v1/events?order_id=ord_1',
      'POST /v1/events/evt_1/redeliver',
      'GET /v1/bill_checks?channel=alipay&status=discrepancies',
      'GET /v1/orders/a%2Fb',
    ])
  })

  it('walks every page with iterate()', async () => {
    script = (req, res) => {
      const cursor = new URL(req.url, 'http://x').searchParams.get('cursor')
      if (!cursor) return json(res, 200, { object: 'list', data: [{ id: 'o3' }, { id: 'o2' }], has_more: true, next_cursor: 'c1' })
      json(res, 200, { object: 'list', data: [{ id: 'o1' }], has_more: false, next_cursor: null })
    }
    const c = new ScanPay({ baseUrl: base, secret: SECRET })
    const ids: string[] = []
    for await (const o of c.orders.iterate({ limit: 2 })) ids.push(o.id)
    assert.deepEqual(ids, ['o3', 'o2', 'o1'])
    assert.equal(seen[1]!.url, '/v1/orders?limit=2&cursor=c1')
  })

  it('refuses misconfiguration with a message that says what to pass', () => {
    assert.throws(() => new ScanPay({ baseUrl: base, secret: 'whsec_abc' }), /webhook signing secret/)
    assert.throws(() => new ScanPay({ baseUrl: base, secret: 'nope' }), /sk_test_/)
    assert.throws(() => new ScanPay({ baseUrl: 'localhost:8080', secret: SECRET }), /baseUrl/)
    assert.throws(() => new ScanPay({ baseUrl: base, secret: SECRET, auth: 'hmac' }), /keyId/)
  })
})

it('backs off exponentially with jitter, capped', () => {
  assert.equal(backoffMs(0, () => 1), 500)
  assert.equal(backoffMs(0, () => 0), 250)
  assert.equal(backoffMs(3, () => 1), 4000)
  assert.equal(backoffMs(10, () => 1), 8000)
})
