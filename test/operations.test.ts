// Operations over real HTTP: health, readiness, metrics, request ids, OpenAPI, production-mode guards, and
// a graceful shutdown that finishes the webhook delivery under way.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import { it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { describeEachDatabase } from './helpers/each-database.ts'
import pg from 'pg'
import pino from 'pino'
import { databaseKinds, POSTGRES_URL } from './helpers/databases.ts'
import { loadConfig } from '../src/config/config.ts'
import { startServer } from '../src/server.ts'
import { openDatabase } from '../src/storage/database.ts'
import { api, ORDER, startTestServer } from './helpers/server.ts'
import { eventually } from './helpers/webhook-receiver.ts'

describeEachDatabase('operations', (t) => {
  it('answers healthz, readyz and metrics', async () => {
    const health = await fetch(`${t.server.url}/healthz`)
    assert.equal(health.status, 200)
    const ready = await fetch(`${t.server.url}/readyz`)
    assert.equal(ready.status, 200)
    assert.equal(((await ready.json()) as any).database, t.kind)

    const sk = t.server.merchant.test.secret
    const o = (await api(t.server.url, sk, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'metrics-1' })).body
    const pendingBefore = Number(/^scanpay_orders_pending (\d+)$/m.exec(await (await fetch(`${t.server.url}/metrics`)).text())?.[1])
    assert.ok(pendingBefore >= 1, 'the new order is pending')
    await api(t.server.url, sk, 'POST', `/v1/orders/${o.id}/close`)
    const metrics = await fetch(`${t.server.url}/metrics`)
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/)
    const text = await metrics.text()
    assert.match(text, /# TYPE scanpay_http_requests_total counter/)
    assert.match(text, /scanpay_http_requests_total\{route="\/v1\/orders",status="201"\} \d+/)
    assert.match(text, /^scanpay_orders_pending \d+$/m)
    assert.equal(Number(/^scanpay_orders_pending (\d+)$/m.exec(text)?.[1]), pendingBefore - 1, 'closed, it is pending no more')
    assert.match(text, /# TYPE scanpay_events_total counter/)
    assert.match(text, /^scanpay_events_total\{type="order\.closed"\} [1-9]\d*$/m)
    assert.match(text, /scanpay_webhook_queue_depth\{state="waiting"\} \d+/)
    assert.match(text, /^scanpay_database_up 1$/m)
    // The series the alerts read are there at 0 before their first count (increase() needs a sample before it).
    for (const series of [
      'scanpay_unexpected_refunds_total{channel="wechatpay",outcome="refused"}',
      'scanpay_unexpected_refunds_total{channel="alipay",outcome="refunded"}',
      'scanpay_bill_checks_total{channel="alipay",outcome="discrepancies"}',
      'scanpay_webhook_deliveries_total{outcome="failed"}',
      'scanpay_events_total{type="refund.failed"}',
      'scanpay_refunds_pending',
      'scanpay_refunds_pending_oldest_seconds',
      'scanpay_unexpected_payments_unrefunded{state="awaiting_person"}',
      'scanpay_unexpected_payments_unrefunded_oldest_seconds',
    ]) {
      assert.ok(text.split('\n').includes(`${series} 0`), series)
    }
    // The process's own memory and CPU.
    assert.ok(Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1]) > 10_000_000, 'RSS in bytes')
    assert.ok(Number(/^nodejs_heap_size_used_bytes (\d+)$/m.exec(text)?.[1]) > 0)
    // How late the main thread ran, and V8's pauses (a server that has started has collected garbage).
    assert.ok(Number(/^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1]) >= 0)
    assert.match(text, /^nodejs_gc_duration_seconds_count\{kind="minor"\} [1-9]\d*$/m)
    assert.match(text, /# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total [\d.]+\n/)
    if (t.kind === 'sqlite') {
      // The create and the close (with its event) were committed by the writer thread at least once each.
      assert.match(text, /# TYPE scanpay_sqlite_commits_total counter/)
      assert.ok(Number(/^scanpay_sqlite_commits_total (\d+)$/m.exec(text)?.[1]) >= 2, text)
      // The create and the close go whole to the writer: the transactions that held it are the startup's.
      assert.match(text, /^scanpay_sqlite_held_transactions_total \d+$/m)
      assert.match(text, /^scanpay_sqlite_held_seconds_total [\d.e-]+$/m)
      // How long commits took, as a histogram: a stalling disk shows in its upper buckets.
      assert.match(text, /# TYPE scanpay_sqlite_commit_seconds histogram/)
      assert.match(text, /^scanpay_sqlite_commit_seconds_bucket\{le="0.005"\} \d+$/m)
      const count = /^scanpay_sqlite_commit_seconds_count (\d+)$/m.exec(text)?.[1]
      assert.equal(/^scanpay_sqlite_commit_seconds_bucket\{le="\+Inf"\} (\d+)$/m.exec(text)?.[1], count)
      assert.equal(count, /^scanpay_sqlite_commits_total (\d+)$/m.exec(text)?.[1])
      assert.match(text, /^scanpay_sqlite_commit_seconds_sum [\d.e-]+$/m)
    } else {
      assert.doesNotMatch(text, /scanpay_sqlite_commits_total/)
    }
  })

  it('gives unknown routes a contract-shaped 404 with a request id', async () => {
    const res = await fetch(`${t.server.url}/v2/nothing`)
    assert.equal(res.status, 404)
    const body = (await res.json()) as any
    assert.equal(body.error.type, 'not_found')
    assert.equal(body.error.request_id, res.headers.get('x-request-id'))
  })

  it('serves an OpenAPI document built from the route schemas', async () => {
    const doc = (await (await fetch(`${t.server.url}/openapi.json`)).json()) as any
    assert.match(doc.openapi, /^3\./)
    const create = doc.paths['/v1/orders'].post
    assert.equal(create.requestBody.content['application/json'].schema.properties.amount.maximum, 100_000_000_000)
    assert.ok(doc.paths['/v1/events/{id}/redeliver'])
    assert.ok(doc.paths['/v1/bill_checks'].get.responses['200'])
    // Every error the contract names, on every route, in the one error shape.
    for (const status of ['400', '401', '404', '409', '413', '415', '429', '500', '503']) {
      const answer = create.responses[status]
      assert.ok(answer, `POST /v1/orders documents ${status}`)
      assert.deepEqual(Object.keys(answer.content['application/json'].schema.properties.error.properties), ['type', 'code', 'message', 'param', 'request_id'])
    }
    assert.match(doc.paths['/v1/refunds/{id}'].get.responses['429'].description, /Retry-After/)
    // Every /v1 route documents its success answer, so a generated client is typed.
    for (const [path, item] of Object.entries(doc.paths) as [string, any][]) {
      if (!path.startsWith('/v1/')) continue
      for (const [method, op] of Object.entries(item) as [string, any][]) {
        if (['get', 'post'].includes(method)) assert.ok(op.responses['200'] ?? op.responses['201'], `${method.toUpperCase()} ${path} documents its success`)
      }
    }
    // Every POST says it takes an Idempotency-Key; no GET does.
    for (const [path, item] of Object.entries(doc.paths) as [string, any][]) {
      if (item.post) assert.ok(item.post.parameters?.some((p: { name: string; in: string }) => p.name === 'Idempotency-Key' && p.in === 'header'), `POST ${path}`)
      if (item.get) assert.ok(!item.get.parameters?.some((p: { name: string }) => p.name === 'Idempotency-Key'), `GET ${path}`)
    }
  })
})

const [kind] = await databaseKinds()

it('production mode starts on the contract\'s default public URL (http://HOST:PORT), warning that it is not https', async () => {
  const warnings = async (env: Record<string, string>) => {
    const logged: any[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
    const ts = await startTestServer(kind!, { env: { NODE_ENV: 'production', ...env }, logger })
    try {
      assert.equal((await fetch(`${ts.url}/healthz`)).status, 200)
      const order = await api(ts.url, ts.merchant.test.secret, 'POST', '/v1/orders', ORDER)
      assert.equal(order.status, 201)
      return { order: order.body, warned: logged.filter((l) => l.level === 40 && /PUBLIC_URL/.test(l.msg)).map((l) => l.msg) }
    } finally {
      await ts.stop()
    }
  }
  const plain = await warnings({})
  assert.match(plain.order.pay_url, /^http:\/\/127\.0\.0\.1:\d+\/pay\//)
  assert.equal(plain.warned.length, 1)
  assert.match(plain.warned[0], /^PUBLIC_URL http:\/\/127\.0\.0\.1:\d+ is not https in production: .*WeChat Pay calls back only https/)
  assert.deepEqual((await warnings({ PUBLIC_URL: 'https://pay.example' })).warned, [])
})

it('production mode refuses merchant URLs that point at internal addresses, and writes nothing', async () => {
  const ts = await startTestServer(kind!, { env: { NODE_ENV: 'production', PUBLIC_URL: 'https://pay.example' } })
  try {
    for (const url of ['http://127.0.0.1/hook', 'http://localhost:3000/x', 'http://10.0.0.8/x', 'http://[::1]/x', 'http://169.254.169.254/latest']) {
      const res = await api(ts.url, ts.merchant.test.secret, 'POST', '/v1/orders', { ...ORDER, notify_url: url })
      assert.equal(res.status, 400, url)
      assert.equal(res.body.error.code, 'url_not_allowed')
      assert.equal(res.body.error.param, 'notify_url')
    }
    const list = await api(ts.url, ts.merchant.test.secret, 'GET', '/v1/orders')
    assert.equal(list.body.data.length, 0)
  } finally {
    await ts.stop()
  }
})

it('a graceful stop waits for the webhook delivery under way and records it', async () => {
  // Set once the delivery's request has reached the endpoint.
  const arrived: { release?: () => void } = {}
  const slow = createServer((req, res) => {
    req.resume()
    arrived.release = () => {
      if (!res.headersSent) res.writeHead(200).end('ok')
    }
  })
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r))
  const hookUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/hook`
  const ts = await startTestServer(kind!)
  try {
    const sk = ts.merchant.test.secret
    const o = (await api(ts.url, sk, 'POST', '/v1/orders', { ...ORDER, notify_url: hookUrl })).body
    await api(ts.url, sk, 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
    await eventually(async () => ts.server.ctx.worker.inflight === 1 && arrived.release !== undefined, 5000, 'delivery in flight, its request at the endpoint')
    let stopped = false
    const stopping = ts.server.stop().then(() => (stopped = true))
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(stopped, false, 'stop waits for the delivery')
    arrived.release!()
    await stopping
    const reopened = await openDatabase(ts.db.url, { pgSchema: ts.db.pgSchema })
    const attempts = await reopened.db.selectFrom('webhook_deliveries').selectAll().execute()
    await reopened.close()
    assert.equal(attempts.length, 1)
    assert.equal(attempts[0]!.status_code, 200)
  } finally {
    arrived.release?.()
    slow.closeAllConnections()
    slow.close()
    await ts.stop()
  }
})

it('a request that reaches a stopping server is answered 503 in the contract\'s shape, and changes nothing', async () => {
  const logged: any[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
  const ts = await startTestServer(kind!, { logger })
  const sk = ts.merchant.test.secret
  const socket = connect(Number(new URL(ts.url).port), '127.0.0.1')
  try {
    let text = ''
    socket.on('data', (d) => (text += d))
    await once(socket, 'connect')
    // A create under way keeps the connection busy while the server starts to stop: its body is still coming.
    const body = JSON.stringify({ ...ORDER, out_trade_no: 'stop-1' })
    socket.write(`POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${sk}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)
    await new Promise((r) => setTimeout(r, 200))
    const stopping = ts.server.stop()
    await new Promise((r) => setTimeout(r, 100))
    const late = JSON.stringify({ ...ORDER, out_trade_no: 'stop-2' })
    socket.write(`${body.slice(10)}POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${sk}\r\nContent-Type: application/json\r\nContent-Length: ${late.length}\r\n\r\n${late}`)
    await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 10_000))])
    await stopping
    const [first, second] = text.split(/(?=HTTP\/1\.1 )/)
    assert.match(first!, /^HTTP\/1\.1 201 /, 'the create under way finishes')
    assert.match(second!, /^HTTP\/1\.1 503 /)
    assert.match(second!, /\r\nx-request-id: req_\w+\r\n/i)
    assert.match(second!, /\r\nretry-after: 1\r\n/i)
    const error = JSON.parse(second!.slice(second!.indexOf('\r\n\r\n') + 4)).error
    assert.deepEqual([error.type, error.code], ['internal', 'service_unavailable'])
    const reopened = await openDatabase(ts.db.url, { pgSchema: ts.db.pgSchema })
    const orders = await reopened.db.selectFrom('orders').select('out_trade_no').where('out_trade_no', 'like', 'stop-%').execute()
    await reopened.close()
    assert.deepEqual(orders.map((o) => o.out_trade_no), ['stop-1'])
    // Planned, not a failure: logged at info, without a stack.
    const refused = logged.filter((l) => l.code === 'service_unavailable')
    assert.equal(refused.length, 1, JSON.stringify(logged))
    assert.equal(refused[0].level, 30)
    assert.equal(refused[0].err, undefined)
    assert.equal(logged.filter((l) => l.level >= 50).length, 0, JSON.stringify(logged.filter((l) => l.level >= 50)))
  } finally {
    socket.destroy()
    await ts.stop()
  }
})

it('webhooks verify with the merchant secret as the standardwebhooks package expects', async () => {
  // Guards against a secret encoding slip: the secret printed to the merchant is what verifies.
  const ts = await startTestServer(kind!)
  try {
    const received: { headers: any; body: string }[] = []
    const hook = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        received.push({ headers: req.headers, body })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`
    const o = (await api(ts.url, ts.merchant.test.secret, 'POST', '/v1/orders', { ...ORDER, notify_url: url })).body
    await api(ts.url, ts.merchant.test.secret, 'POST', `/v1/test_helpers/orders/${o.id}/pay`)
    await eventually(async () => received.length > 0)
    const event = new Webhook(ts.merchant.webhook_secret).verify(received[0]!.body, received[0]!.headers) as any
    assert.equal(event.data.status, 'paid')
    hook.closeAllConnections()
    hook.close()
  } finally {
    await ts.stop()
  }
})

it('survives PostgreSQL dropping its connections', async (t) => {
  if (!(await databaseKinds()).includes('postgres')) return t.skip('PostgreSQL is not reachable')
  const ts = await startTestServer('postgres')
  try {
    const sk = ts.merchant.test.secret
    assert.equal((await api(ts.url, sk, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'pg-drop-1' })).status, 201)
    const admin = new pg.Client({ connectionString: POSTGRES_URL })
    await admin.connect()
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
      [`scanpay-${ts.db.pgSchema}`],
    )
    await admin.end()
    assert.ok((killed.rowCount ?? 0) > 0, 'the server held connections to drop')
    await new Promise((r) => setTimeout(r, 200))
    const after = await eventually(async () => {
      const r = await api(ts.url, sk, 'POST', '/v1/orders', { ...ORDER, out_trade_no: 'pg-drop-2' })
      return r.status === 201 ? r : null
    })
    assert.equal(after.status, 201)
    assert.equal((await fetch(`${ts.url}/readyz`)).status, 200)
  } finally {
    await ts.stop()
  }
})

it('/metrics answers 200 with the process counters while the database fails, and scanpay_database_up says so', async () => {
  const ts = await startTestServer(kind!)
  try {
    const before = await (await fetch(`${ts.url}/metrics`)).text()
    assert.match(before, /^scanpay_database_up 1$/m)
    const orders = ts.server.ctx.storage.orders as { countPending: () => Promise<unknown> }
    const countPending = orders.countPending
    orders.countPending = async () => {
      throw new Error('Connection terminated unexpectedly')
    }
    const res = await fetch(`${ts.url}/metrics`)
    assert.equal(res.status, 200)
    const text = await res.text()
    assert.match(text, /^scanpay_database_up 0$/m)
    assert.match(text, /^scanpay_http_requests_total\{route="\/metrics",status="200"\} 1$/m)
    assert.match(text, /^process_resident_memory_bytes \d+$/m)
    // What the database would say is left out, not reported as 0.
    assert.doesNotMatch(text, /scanpay_orders|scanpay_webhook_queue_depth|scanpay_refunds_pending/)
    orders.countPending = countPending
    assert.match(await (await fetch(`${ts.url}/metrics`)).text(), /^scanpay_database_up 1$/m)
  } finally {
    await ts.stop()
  }
})

it('/metrics answers within its timeout when PostgreSQL hangs', async (t) => {
  if (!(await databaseKinds()).includes('postgres')) return t.skip('PostgreSQL is not reachable')
  const ts = await startTestServer('postgres')
  // A transaction that locks the orders table: every read of it waits, as on a hung database.
  const locker = new pg.Client({ connectionString: POSTGRES_URL })
  await locker.connect()
  try {
    await locker.query('BEGIN')
    await locker.query(`LOCK TABLE ${ts.db.pgSchema}.orders IN ACCESS EXCLUSIVE MODE`)
    const started = Date.now()
    const res = await fetch(`${ts.url}/metrics`)
    const text = await res.text()
    const took = Date.now() - started
    assert.equal(res.status, 200)
    assert.ok(took >= 1900 && took < 4000, `answered after ${took} ms`)
    assert.match(text, /^scanpay_database_up 0$/m)
    assert.doesNotMatch(text, /^scanpay_orders/m)
    await locker.query('ROLLBACK')
    assert.match(await (await fetch(`${ts.url}/metrics`)).text(), /^scanpay_database_up 1$/m)
  } finally {
    await locker.end()
    await ts.stop()
  }
})
