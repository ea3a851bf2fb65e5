// Several ScanPay processes on one PostgreSQL: three real server processes (two plain, one a --workers 2
// cluster) take concurrent creates, pays and closes on the SAME orders. No move may apply twice, every move
// writes exactly one event, and every event is delivered exactly once. Also: --workers is refused on SQLite.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import pg from 'pg'
import { POSTGRES_URL, postgresAvailable } from './helpers/databases.ts'
import { exited, runScanPay } from './helpers/cli.ts'
import { api, freePort } from './helpers/server.ts'
import { eventually, sleep, WebhookReceiver } from './helpers/webhook-receiver.ts'

const ORDERS = 40

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  await exited(child)
  clearTimeout(timer)
}

describe('--workers on SQLite', () => {
  it('is refused with a clear message, since one process owns the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-workers-'))
    const child = runScanPay(['start', '--port', String(await freePort()), '--db', `sqlite:${join(dir, 'x.db')}`, '--workers', '2'], {
      NODE_ENV: 'development',
      SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'),
    })
    const code = await exited(child)
    assert.equal(code, 2)
    assert.match(child.output(), /--workers above 1 needs PostgreSQL/)
  })
})

const pgUp = await postgresAvailable()

describe('three processes on one PostgreSQL', { skip: pgUp ? false : 'PostgreSQL unreachable' }, () => {
  const dbName = `scanpay_mp_${randomBytes(5).toString('hex')}`
  const dbUrl = (() => {
    const u = new URL(POSTGRES_URL)
    u.pathname = `/${dbName}`
    return u.toString()
  })()
  const env = {
    NODE_ENV: 'development',
    SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'),
    SCANPAY_JOB_INTERVAL_MS: '100',
    SCANPAY_RATE_LIMIT: '100000',
    LOG_LEVEL: 'warn',
  }
  const receiver = new WebhookReceiver()
  const servers: (ChildProcess & { output: () => string })[] = []
  const urls: string[] = []
  let secret = ''
  let sql: pg.Client

  before(async () => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${dbName}`)
    await admin.end()
    await receiver.start()
    const create = runScanPay(['merchant', 'create', '--name', 'Many Nodes', '--webhook-url', receiver.url, '--json', '--db', dbUrl], env)
    assert.equal(await exited(create), 0, create.output())
    secret = JSON.parse(create.output().trim().split('\n').pop()!).test.secret
    for (const extra of [[], [], ['--workers', '2']]) {
      const port = await freePort()
      servers.push(runScanPay(['start', '--port', String(port), '--db', dbUrl, ...extra], env))
      urls.push(`http://127.0.0.1:${port}`)
    }
    await Promise.all(
      urls.map((u, i) =>
        eventually(
          async () => {
            if (servers[i]!.exitCode !== null) throw new Error(`server ${i} exited:\n${servers[i]!.output()}`)
            // The process must say it listens: a readyz answer alone could come from another suite's server
            // that took the same port first.
            if (!/listening on/.test(servers[i]!.output())) return false
            return (await fetch(`${u}/readyz`).catch(() => null))?.ok
          },
          60_000,
          `server ${u} ready`,
        ),
      ),
    )
    sql = new pg.Client({ connectionString: dbUrl })
    await sql.connect()
  })

  // A failure here is usually a process's: show what each one printed (warnings and errors only).
  afterEach((t) => {
    if (!('passed' in t) || t.passed) return
    for (const [i, s] of servers.entries()) {
      console.error(`--- server ${i} (${urls[i]}, pid ${s.pid}, exit ${s.exitCode ?? s.signalCode ?? 'running'}):\n${s.output().slice(-6000)}`)
    }
  })

  after(async () => {
    await Promise.all(servers.map(stop))
    await receiver.stop()
    await sql?.end()
    const admin = new pg.Client({ connectionString: POSTGRES_URL })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
    await admin.end()
  })

  it('the same out_trade_no created on all three at once makes one order', async () => {
    const body = { out_trade_no: 'same-everywhere', amount: 500, subject: 'Tea' }
    const results = await Promise.all([...urls, ...urls].map((u) => api(u, secret, 'POST', '/v1/orders', body)))
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 201])
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1)
    const rows = await sql.query(`SELECT count(*)::int AS n FROM orders WHERE out_trade_no = 'same-everywhere'`)
    assert.equal(rows.rows[0].n, 1)
  })

  it('concurrent pays and closes of shared orders across the processes: each order moves once, with one event, delivered once', async () => {
    const node = (i: number) => urls[i % urls.length]!
    const created = await Promise.all(
      Array.from({ length: ORDERS }, (_, i) => api(node(i), secret, 'POST', '/v1/orders', { out_trade_no: `mp-${i}`, amount: 100 + i, subject: 'Shared' })),
    )
    for (const c of created) assert.equal(c.status, 201, JSON.stringify(c.body))
    const ids: string[] = created.map((c) => c.body.id)

    // Every order gets two pays and two closes at once, each on a different process.
    const calls = ids.flatMap((id, i) => [
      { id, op: 'pay', res: api(node(i), secret, 'POST', `/v1/test_helpers/orders/${id}/pay`) },
      { id, op: 'pay', res: api(node(i + 1), secret, 'POST', `/v1/test_helpers/orders/${id}/pay`) },
      { id, op: 'close', res: api(node(i + 2), secret, 'POST', `/v1/orders/${id}/close`) },
      { id, op: 'close', res: api(node(i + 1), secret, 'POST', `/v1/orders/${id}/close`) },
    ])
    const answers = await Promise.all(calls.map(async (c) => ({ ...c, res: await c.res })))

    for (const id of ids) {
      const mine = answers.filter((a) => a.id === id)
      const paidOk = mine.filter((a) => a.op === 'pay' && a.res.status === 200)
      const closedOk = mine.filter((a) => a.op === 'close' && a.res.status === 200)
      assert.ok(paidOk.length <= 1, `${id}: paid twice`)
      // Closing a closed order answers 200 with it unchanged, so both closes may succeed, but never beside a pay.
      assert.ok(paidOk.length === 0 || closedOk.length === 0, `${id}: both paid and closed`)
      assert.ok(paidOk.length + closedOk.length >= 1, `${id}: nothing won: ${JSON.stringify(mine.map((a) => [a.op, a.res.status, a.res.body?.error?.code]))}`)
      const loserCodes = mine.filter((a) => a.res.status !== 200).map((a) => `${a.op}:${a.res.status}:${a.res.body?.error?.code}`)
      for (const c of loserCodes) assert.match(c, /^(pay:409:order_not_pending|close:409:order_paid)$/, `${id}: ${c}`)
      const final = paidOk.length === 1 ? 'paid' : 'closed'
      for (const u of urls) assert.equal((await api(u, secret, 'GET', `/v1/orders/${id}`)).body.status, final, `${id} as seen from ${u}`)
    }

    const both = await sql.query(`SELECT count(*)::int AS n FROM orders WHERE paid_at IS NOT NULL AND closed_at IS NOT NULL`)
    assert.equal(both.rows[0].n, 0, 'no order both paid and closed')
    const payments = await sql.query(
      `SELECT order_id, count(*)::int AS n FROM payments WHERE status = 'succeeded' GROUP BY order_id HAVING count(*) > 1`,
    )
    assert.deepEqual(payments.rows, [], 'at most one succeeded payment per order')

    // Exactly one order.paid or order.closed per order that moved, matching its status.
    const events = await sql.query(
      `SELECT e.order_id, e.type, o.status FROM events e JOIN orders o ON o.merchant_id = e.merchant_id AND o.id = e.order_id
       WHERE e.order_id = ANY($1)`,
      [ids],
    )
    assert.equal(events.rows.length, ORDERS, 'one event per order, no duplicates')
    assert.equal(new Set(events.rows.map((r) => r.order_id)).size, ORDERS)
    for (const r of events.rows) assert.equal(r.type, `order.${r.status}`)

    // Every event reaches the receiver exactly once, whichever process claimed it.
    const eventIds = new Set((await sql.query(`SELECT id FROM events WHERE order_id = ANY($1)`, [ids])).rows.map((r) => r.id as string))
    const mineReceived = () => receiver.received.filter((w) => eventIds.has(String(w.headers['webhook-id'])))
    await eventually(async () => mineReceived().length >= ORDERS, 30_000, 'every event delivered')
    // Give a duplicate the chance to show up: the delivery loops poll every 100 ms.
    await sleep(1500)
    const got = mineReceived().map((w) => String(w.headers['webhook-id']))
    assert.equal(got.length, ORDERS, 'no event delivered twice')
    assert.deepEqual(new Set(got), eventIds)
    const attempts = await sql.query(
      `SELECT e.id, e.delivery_status, (SELECT count(*)::int FROM webhook_deliveries d WHERE d.merchant_id = e.merchant_id AND d.event_id = e.id) AS n
       FROM events e WHERE e.order_id = ANY($1)`,
      [ids],
    )
    for (const r of attempts.rows) {
      assert.equal(r.delivery_status, 'delivered', r.id)
      assert.equal(r.n, 1, `${r.id} attempted once`)
    }
  })

  it('every process is still serving, and a --workers cluster stops cleanly', async () => {
    for (const u of urls) assert.equal((await fetch(`${u}/healthz`)).status, 200)
    const cluster = servers[2]!
    cluster.kill('SIGTERM')
    assert.equal(await exited(cluster), 0, cluster.output())
  })
})
