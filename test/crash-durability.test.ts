// Nothing acknowledged is lost: a ScanPay process on SQLite is killed (SIGKILL) in the middle of concurrent
// creates and pays; restarted on the same file, it still has every order it answered 201 for, and every pay it
// answered with a paid order is paid, with its order.paid event. (A killed process, not a power cut: the OS
// keeps what was written. The power-cut half is SQLite's synchronous=FULL, see docs/decisions.md.)
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { exited, runScanPay } from './helpers/cli.ts'
import { api, freePort } from './helpers/server.ts'
import { eventually } from './helpers/webhook-receiver.ts'

async function startServer(db: string, env: Record<string, string>) {
  const port = await freePort()
  const child = runScanPay(['start', '--port', String(port), '--db', db], env)
  const url = `http://127.0.0.1:${port}`
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`server exited:\n${child.output()}`)
      return (await fetch(`${url}/readyz`).catch(() => null))?.ok
    },
    60_000,
    'server ready',
  )
  return { child, url }
}

describe('a killed SQLite process', () => {
  const children: ChildProcess[] = []
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await Promise.all(children.map(exited))
  })

  it('keeps every order and payment it acknowledged', async () => {
    const db = `sqlite:${join(mkdtempSync(join(tmpdir(), 'scanpay-crash-')), 'scanpay.db')}`
    const env = { NODE_ENV: 'development', SCANPAY_MASTER_KEY: randomBytes(32).toString('base64'), SCANPAY_RATE_LIMIT: '1000000', LOG_LEVEL: 'warn' }
    const create = runScanPay(['merchant', 'create', '--name', 'Crash Cafe', '--json', '--db', db], env)
    children.push(create)
    await exited(create)
    const merchant = JSON.parse(create.output().trim().split('\n').pop()!)
    const secret = merchant.test.secret as string

    const first = await startServer(db, env)
    children.push(first.child)
    const created = new Map<string, string>()
    const paid = new Set<string>()
    // Keyed creates the kill left unanswered: their retries must run on the restarted server at once.
    const unanswered: string[] = []
    let stop = false
    let n = 0
    const order = (outTradeNo: string) => ({ out_trade_no: outTradeNo, amount: 100, subject: 'Tea' })
    // Concurrent clients, each creating orders (every third with an Idempotency-Key) and paying every other one,
    // until the server dies under them.
    const client = async () => {
      while (!stop) {
        const outTradeNo = `crash-${n++}`
        const keyed = n % 3 === 0 ? { 'idempotency-key': `key-${outTradeNo}` } : undefined
        const c = await api(first.url, secret, 'POST', '/v1/orders', order(outTradeNo), keyed).catch(() => null)
        if (!c && keyed) unanswered.push(outTradeNo)
        if (!c) return
        if (c.status !== 201) continue
        created.set(c.body.id, outTradeNo)
        if (n % 2) continue
        const p = await api(first.url, secret, 'POST', `/v1/test_helpers/orders/${c.body.id}/pay`).catch(() => null)
        if (!p) return
        if (p.status === 200 && p.body.status === 'paid') paid.add(c.body.id)
      }
    }
    const clients = Array.from({ length: 32 }, client)
    await eventually(async () => paid.size >= 100, 30_000, 'load under way')
    first.child.kill('SIGKILL')
    stop = true
    await Promise.all(clients)
    await exited(first.child)
    // As if the kill had come between a keyed request's claim and its answer, whatever the timing gave above.
    const file = new Database(db.slice('sqlite:'.length))
    file.prepare('INSERT INTO idempotency_keys (merchant_id, mode, key, request_hash, status_code, response_body, created_at, expires_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)')
      .run(merchant.merchant_id, 'test', 'key-crash-claimed', 'a-hash', 'req_dead', Date.now(), Date.now() + 86_400_000)
    file.close()
    unanswered.push('crash-claimed')

    const second = await startServer(db, env)
    children.push(second.child)
    for (const [id, outTradeNo] of created) {
      const o = await api(second.url, secret, 'GET', `/v1/orders/${id}`)
      assert.equal(o.status, 200, `acknowledged order ${id} is gone`)
      assert.equal(o.body.out_trade_no, outTradeNo)
      if (paid.has(id)) assert.equal(o.body.status, 'paid', `acknowledged payment of ${id} is gone`)
    }
    for (const id of [...paid].slice(0, 50)) {
      const events = await api(second.url, secret, 'GET', `/v1/events?order_id=${id}`)
      assert.equal(events.body.data.filter((e: { type: string }) => e.type === 'order.paid').length, 1, `order.paid of ${id}`)
    }
    assert.ok(created.size >= 100, `${created.size} orders acknowledged before the kill`)
    // The dead server's claims were given back at the start: retried now, each runs (201, or 200 where the order
    // was written before the kill), none waits out the minute after which a claim counts as abandoned.
    for (const outTradeNo of unanswered) {
      const retried = await api(second.url, secret, 'POST', '/v1/orders', order(outTradeNo), { 'idempotency-key': `key-${outTradeNo}` })
      assert.ok(retried.status === 201 || retried.status === 200, `${outTradeNo}: ${retried.status} ${JSON.stringify(retried.body)}`)
    }
    second.child.kill('SIGTERM')
    await exited(second.child)
  })
})
