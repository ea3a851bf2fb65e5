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
    const secret = JSON.parse(create.output().trim().split('\n').pop()!).test.secret as string

    const first = await startServer(db, env)
    children.push(first.child)
    const created = new Map<string, string>()
    const paid = new Set<string>()
    let stop = false
    let n = 0
    // Concurrent clients, each creating orders and paying every other one, until the server dies under them.
    const client = async () => {
      while (!stop) {
        const outTradeNo = `crash-${n++}`
        const c = await api(first.url, secret, 'POST', '/v1/orders', { out_trade_no: outTradeNo, amount: 100, subject: 'Tea' }).catch(() => null)
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
    second.child.kill('SIGTERM')
    await exited(second.child)
  })
})
