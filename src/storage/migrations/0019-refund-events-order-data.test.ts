// Migration 0019 over a database holding refund events of the old shape (the refund, its order under `order`), on
// SQLite and PostgreSQL: each becomes the contract's shape (the order, the refund under `refund`), across pages;
// other events, and refund events already in the new shape, are left as they were.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { Kysely } from 'kysely'
import { describeMigration, LATEST, type MigrationExercise } from '../../../test/helpers/migration-test.ts'
import { refundEventDataInOrderShape } from './0019-refund-events-order-data.ts'

const order = (i: number) => ({ id: `ord_${i}`, object: 'order', status: 'partially_refunded', amount: 1234, amount_refunded: 300 })
const refund = (i: number) => ({ id: `rfd_${i}`, object: 'refund', order_id: `ord_${i}`, amount: 300, status: 'succeeded' })
const event = (merchant: string, i: number, type: string, data: unknown) => ({
  merchant_id: merchant, id: `evt_${String(i).padStart(5, '0')}`, mode: 'test', order_id: `ord_${i}`, type, data: JSON.stringify(data),
  notify_url: null, created_at: 1000 + i, delivery_status: 'pending', attempt_count: 0, next_attempt_at: 1000 + i, locked_until: null, one_shot: 0,
})

it('rewrites the old shape and leaves anything else', () => {
  assert.deepEqual(JSON.parse(refundEventDataInOrderShape(JSON.stringify({ ...refund(1), order: order(1) }))!), { ...order(1), refund: refund(1) })
  assert.equal(refundEventDataInOrderShape(JSON.stringify({ ...order(1), refund: refund(1) })), null)
  assert.equal(refundEventDataInOrderShape(JSON.stringify(order(1))), null)
})

async function exercise({ db, migrateTo }: MigrationExercise) {
  assert.equal((await migrateTo('0018-refunds-by-id')).error, undefined)
  // More than a page (500) of old refund events over two merchants, among events of other kinds.
  const rows = []
  for (let i = 0; i < 1_200; i++) {
    const merchant = i % 2 === 0 ? 'mch_a' : 'mch_b'
    if (i % 10 === 0) rows.push(event(merchant, i, 'order.paid', order(i)))
    else if (i % 10 === 1) rows.push(event(merchant, i, 'refund.failed', { ...order(i), refund: refund(i) }))
    else rows.push(event(merchant, i, i % 3 === 0 ? 'refund.failed' : 'refund.succeeded', { ...refund(i), order: order(i) }))
  }
  for (let i = 0; i < rows.length; i += 200) await (db as Kysely<any>).insertInto('events').values(rows.slice(i, i + 200)).execute()
  const { error } = await migrateTo(LATEST)
  assert.equal(error, undefined)
  const after = await db.selectFrom('events').select(['id', 'type', 'data']).orderBy('id').execute()
  assert.equal(after.length, rows.length)
  for (const row of after) {
    const i = Number(row.id.slice(4))
    const data = JSON.parse(row.data)
    if (row.type === 'order.paid') assert.deepEqual(data, order(i), row.id)
    else assert.deepEqual(data, { ...order(i), refund: refund(i) }, row.id)
  }
}

describeMigration('migration 0019: refund events carry the order as data, the refund under it', exercise)
