// The operator's list of unexpected payments still to be refunded, on both databases: only those, oldest first,
// read through the small partial index rather than every payment ever made.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { CompiledQuery } from 'kysely'
import { describeEachStorage } from '../../test/helpers/fresh-database.ts'
import { newId } from '../core/ids.ts'
import type { Payment, PaymentStatus } from '../core/ports.ts'
import { SqlPaymentStore } from './payment-store.ts'

describeEachStorage('SqlPaymentStore.awaitingRefund', (t) => {
  const payment = (merchantId: string, status: PaymentStatus, createdAt: number): Payment => ({
    id: newId('pay', createdAt), merchantId, orderId: newId('ord', createdAt), channel: 'wechatpay', status, amount: 100, currency: 'CNY',
    channelTradeNo: `4200${createdAt}`, unexpected: status !== 'succeeded', createdAt, updatedAt: createdAt, nextCheckAt: null,
  })

  it('lists the payments in refund_requested, oldest first, of one merchant or all', async () => {
    const store = new SqlPaymentStore(t.database.db)
    const now = Date.now()
    const rows = [
      payment('mch_a', 'refund_requested', now - 3000),
      payment('mch_b', 'refund_requested', now - 2000),
      payment('mch_a', 'refunded', now - 1500),
      payment('mch_a', 'succeeded', now - 1000),
      payment('mch_a', 'refund_requested', now - 500),
    ]
    for (const p of rows) await store.insert(p)
    assert.deepEqual((await store.awaitingRefund({ limit: 10 })).map((p) => p.id), [rows[0]!.id, rows[1]!.id, rows[4]!.id])
    assert.deepEqual((await store.awaitingRefund({ merchantId: 'mch_a', limit: 10 })).map((p) => p.id), [rows[0]!.id, rows[4]!.id])
    assert.deepEqual((await store.awaitingRefund({ limit: 1 })).map((p) => p.id), [rows[0]!.id])
  })

  it('sums them up for /metrics: awaiting a person (no next check), in progress, and since when the oldest waits', async () => {
    const now = Date.now()
    const store = new SqlPaymentStore(t.database.db)
    const before = await store.unrefundedSummary()
    const rows = [
      { ...payment('mch_s', 'refund_requested', now - 9000), nextCheckAt: now + 60_000 },
      payment('mch_s', 'refund_requested', now - 8000),
      { ...payment('mch_s', 'refund_requested', now - 7000), nextCheckAt: now },
      // Older than anything else in the database: the oldest, whatever other tests left.
      { ...payment('mch_s', 'refund_requested', now - 8000), updatedAt: 1000 },
      { ...payment('mch_s', 'refunded', now - 99_000), updatedAt: 500 },
    ]
    for (const p of rows) await store.insert(p)
    const after = await store.unrefundedSummary()
    assert.equal(after.awaitingPerson - before.awaitingPerson, 2)
    assert.equal(after.inProgress - before.inProgress, 2)
    assert.equal(after.oldestSince, 1000, 'from its last move, the refunded one not counted')
  })

  it('reads the partial index of payments awaiting their refund', async () => {
    const { db, dialect } = t.database
    let sent: CompiledQuery | undefined
    const catching = db.withPlugin({ transformQuery: (a) => ((sent = db.getExecutor().compileQuery(a.node, a.queryId)), a.node), transformResult: async (a) => a.result })
    const explain = dialect === 'postgres' ? 'EXPLAIN' : 'EXPLAIN QUERY PLAN'
    for (const merchantId of ['mch_a', undefined]) {
      await new SqlPaymentStore(catching).awaitingRefund({ merchantId, limit: 10 })
      const plan = await db.executeQuery<Record<string, string>>(CompiledQuery.raw(`${explain} ${sent!.sql}`, [...sent!.parameters]))
      const text = plan.rows.map((r) => r['QUERY PLAN'] ?? r.detail).join('\n')
      assert.match(text, /payments_awaiting_refund_ix/, text)
    }
  })
})
