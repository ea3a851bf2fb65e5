// A pay's unit of changes on PostgreSQL (the order to paid, its payment, its order.paid event), sent as a
// transaction (BEGIN, three statements, COMMIT: five round trips) against one statement of writable CTEs (one
// round trip; src/storage/pg-unit-statement.ts, what Storage.applyChanges sends since the sixteenth session).
// Both go through the server's own stores and pool, 32 at a time, in alternating rounds of 4,000 payments;
// PostgreSQL's CPU is every postgres process's, read from /proc, so run nothing else.
//
//   node --import tsx bench/micro/pg-unit.ts [--rounds 3] [--concurrency 32]
import { parseArgs } from 'node:util'
import { newId } from '../../src/core/ids.ts'
import type { Order } from '../../src/core/order.ts'
import { migrate, openDatabase } from '../../src/storage/database.ts'
import { applyChanges } from '../../src/storage/group-commit.ts'
import type { UnitChange } from '../../src/storage/sqlite-thread.ts'
import { Storage } from '../../src/storage/storage.ts'
import { freshPostgres } from '../lib/databases.ts'
import { postgresCpuMs } from '../lib/processes.ts'

const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '32' } } })
const PAYMENTS = 4_000


const target = await freshPostgres()
const database = await openDatabase(target.url)
await migrate(database.db)
const storage = new Storage(database)

function anOrder(i: number, now: number): Order {
  return {
    id: newId('ord', now), merchantId: 'mch_bench', mode: 'test', status: 'pending', outTradeNo: `otn-${i}`, amount: 100, amountRefunded: 0,
    currency: 'CNY', subject: 'A cup of tea', description: null, metadata: {}, channels: ['sandbox'], notifyUrl: 'https://shop.example/hooks',
    returnUrl: null, payToken: `tok_${i}`, channel: null, channelTradeNo: null, requestHash: 'h', createdAt: now, expiresAt: now + 3_600_000,
    paidAt: null, closedAt: null, updatedAt: now,
  } as Order
}

let made = 0
async function round(asOneStatement: boolean): Promise<void> {
  const now = Date.now()
  const orders = Array.from({ length: PAYMENTS }, () => anOrder(++made, now))
  for (let i = 0; i < orders.length; i += 500) await Promise.all(orders.slice(i, i + 500).map((o) => storage.orders.insertIfAbsent(o)))
  const transaction = (changes: readonly UnitChange[]) =>
    applyChanges((fn) => database.db.transaction().execute(fn), changes).then((r) => r.unmet ?? null)
  let next = 0
  const cpu0 = postgresCpuMs()
  const node0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: Number(opts.concurrency) }, async () => {
      while (next < orders.length) {
        const order = orders[next++]!
        const at = Date.now()
        const c = storage.changes
        const payment = { id: newId('pay', at), merchantId: order.merchantId, orderId: order.id, channel: 'sandbox' as const, status: 'succeeded' as const, amount: 100, currency: 'CNY', channelTradeNo: `ctn_${order.outTradeNo}`, unexpected: false, createdAt: at, updatedAt: at }
        const event = { id: newId('evt', at), merchantId: order.merchantId, mode: order.mode, orderId: order.id, type: 'order.paid' as const, data: { amount: 100 }, notifyUrl: order.notifyUrl, createdAt: at }
        const changes = [c.markPaid(order, 'sandbox', payment.channelTradeNo, at), c.succeededPayment(payment, []), c.insertEvent(event)]
        const unmet = asOneStatement ? await storage.applyChanges(changes) : await transaction(changes as readonly unknown[] as UnitChange[])
        if (unmet !== null) throw new Error(`change ${unmet} of a pay changed no row`)
      }
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  const pgUs = ((postgresCpuMs() - cpu0) * 1000) / PAYMENTS
  const node = process.cpuUsage(node0)
  const nodeUs = (node.user + node.system) / PAYMENTS
  console.log(`${asOneStatement ? 'one statement' : 'transaction  '}: ${Math.round(PAYMENTS / seconds)} payments/s, CPU a payment: PostgreSQL ${Math.round(pgUs)} µs, this process ${Math.round(nodeUs)} µs`)
}

// Each round of pairs in the other order: whatever PostgreSQL does after a round (autovacuum of the orders just
// paid) falls on both kinds alike.
for (let r = 0; r < Number(opts.rounds); r++) {
  await round(r % 2 === 1)
  await round(r % 2 === 0)
}
await database.close()
await target.drop()
