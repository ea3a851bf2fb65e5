// A unit of changes as one PostgreSQL statement: how it is joined, and (on both databases, through
// Storage.applyChanges) that it writes every change or none and names the first that changed no row.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type CompiledQuery } from 'kysely'
import { describeEachStorage } from '../../test/helpers/fresh-database.ts'
import { anOrder } from '../../test/helpers/orders.ts'
import { newId } from '../core/ids.ts'
import type { Change } from '../core/ports.ts'
import type { Refund } from '../core/refund.ts'
import { SqlEventStore } from './event-store.ts'
import { SqlOrderStore } from './order-store.ts'
import { SqlPaymentStore } from './payment-store.ts'
import { SqlRefundStore } from './refund-store.ts'
import type { Database } from './schema.ts'
import { unitStatement, unmetChange, undoneByConflict } from './pg-unit-statement.ts'
import type { UnitChange } from './sqlite-thread.ts'

const pgCompiler = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
})

const close = (id: string, now: number): UnitChange =>
  pgCompiler.updateTable('orders').set({ status: 'closed', updated_at: now }).where('id', '=', id).where('status', '=', 'pending').compile()
const event = (id: string): UnitChange =>
  pgCompiler.insertInto('events').values({ id, merchant_id: 'm', mode: 'test', order_id: 'o', type: 'order.closed', data: '{}', notify_url: null, created_at: 1, delivery_status: 'pending', attempt_count: 0, next_attempt_at: 1, locked_until: null, one_shot: 0 }).compile()

describe('unitStatement', () => {
  it('joins the changes in order, each parameter renumbered after the ones before', () => {
    const first = close('ord_1', 5)
    const second = event('evt_1')
    const unit = unitStatement([first, second])!
    assert.ok(unit.sql.startsWith('with c0 as (update "orders" set "status" = $1, "updated_at" = $2 where "id" = $3 and "status" = $4 returning 1), c1 as (insert into "events" '))
    assert.match(unit.sql, /values \(\$5, \$6, .*\$17\) returning 1\)/)
    assert.match(unit.sql, /select case when not exists \(select 1 from c0\) then scanpay_unmet\(0\) when not exists \(select 1 from c1\) then scanpay_unmet\(1\) end as unmet$/)
    // Named and prepared by pg-prepared.ts, which leaves out any text with `*`.
    assert.ok(!unit.sql.includes('*'))
    assert.deepEqual(unit.parameters, [...first.parameters, ...second.parameters])
  })

  it("joins the changes of a pay, a close and a refund's settlement, as the stores compile them", () => {
    const order = anOrder('unit-shape')
    const now = Date.now()
    const orders = new SqlOrderStore(pgCompiler)
    const payments = new SqlPaymentStore(pgCompiler)
    const events = new SqlEventStore(pgCompiler)
    const refunds = new SqlRefundStore(pgCompiler)
    const payment = { id: 'pay_1', merchantId: order.merchantId, orderId: order.id, channel: 'sandbox' as const, status: 'succeeded' as const, amount: order.amount, currency: order.currency, channelTradeNo: 'sbx_1', unexpected: false, createdAt: now, updatedAt: now }
    const anEvent = { id: 'evt_1', merchantId: order.merchantId, mode: order.mode, orderId: order.id, type: 'order.paid' as const, data: {}, notifyUrl: null, createdAt: now }
    const refund = { id: 'rfd_1', merchantId: order.merchantId, orderId: order.id, amount: 1, status: 'pending' } as unknown as Refund
    const units: UnitChange[][] = [
      [orders.markPaidChange(order, 'sandbox', 'sbx_1', now), payments.succeededChange(payment, ['pending']), events.insertChange(anEvent)],
      [orders.markClosedChange(order, now), { ...payments.dueNowChange(order.merchantId, order.id, now), mayChangeNothing: true }, events.insertChange(anEvent)],
      [refunds.succeededChange(refund, 'r1', now), refunds.applyToOrderChange(refund, 0, now), events.insertChange(anEvent)],
    ]
    for (const unit of units) assert.ok(unitStatement(unit), unit.map((change) => change.sql).join('; '))
  })

  it('never raises for a change that may change nothing, and still runs it in its turn', () => {
    const unit = unitStatement([close('ord_1', 5), { ...event('evt_1'), mayChangeNothing: true }])!
    assert.match(unit.sql, /when \(select count\(1\) from c1\) < 0 then null end/)
  })

  it('leaves to a transaction a unit that writes one table twice, reads another change\'s table, or returns rows', () => {
    assert.equal(unitStatement([close('ord_1', 5), close('ord_2', 5)]), null)
    const readsOrders = pgCompiler
      .insertInto('events')
      .columns(['id'])
      .expression((eb) => eb.selectFrom('orders').select('id'))
      .compile()
    assert.equal(unitStatement([close('ord_1', 5), readsOrders]), null)
    const returning = pgCompiler.updateTable('orders').set({ updated_at: 1 }).where('id', '=', 'x').returning('id').compile()
    assert.equal(unitStatement([returning]), null)
    assert.equal(unitStatement([{ sql: 'delete from "orders"', parameters: [] } as unknown as CompiledQuery]), null)
    assert.equal(unitStatement([]), null)
  })

  it('reads the unmet change from scanpay_unmet\'s error only', () => {
    assert.equal(unmetChange({ code: 'SPU01', detail: '2' }), 2)
    assert.equal(unmetChange({ code: '23505', detail: '2' }), null)
    assert.equal(unmetChange(new Error('x')), null)
    assert.equal(undoneByConflict({ code: '23505' }), true)
    assert.equal(undoneByConflict({ code: '40P01' }), true)
    assert.equal(undoneByConflict({ code: '08006' }), false)
  })
})

describeEachStorage('a unit of changes', (t) => {
  const pending = async (outTradeNo: string) => {
    const order = anOrder(outTradeNo)
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    return order
  }
  const eventFor = (order: ReturnType<typeof anOrder>, type: 'order.closed' | 'order.paid') => ({
    id: newId('evt', Date.now()),
    merchantId: order.merchantId,
    mode: order.mode,
    orderId: order.id,
    type,
    data: { id: order.id },
    notifyUrl: null,
    createdAt: Date.now(),
  })
  const eventsOf = async (orderId: string) =>
    (await t.database.db.selectFrom('events').select('type').where('order_id', '=', orderId).execute()).map((r) => r.type)

  it('writes every change', async () => {
    const order = await pending('unit-all')
    const c = t.storage.changes
    const changes: Change[] = [c.markClosed(order, Date.now()), c.paymentsDueNow(order, Date.now()), c.insertEvent(eventFor(order, 'order.closed'))]
    assert.equal(await t.storage.applyChanges(changes), null)
    assert.equal((await t.storage.orders.byId(order.merchantId, order.mode, order.id))?.status, 'closed')
    assert.deepEqual(await eventsOf(order.id), ['order.closed'])
  })

  it('writes none when the first change changes no row, and names it', async () => {
    const order = await pending('unit-first')
    const c = t.storage.changes
    assert.equal(await t.storage.applyChanges([c.markClosed(order, Date.now()), c.insertEvent(eventFor(order, 'order.closed'))]), null)
    // Closed already: the second close changes no row, so its event must not be written.
    assert.equal(await t.storage.applyChanges([c.markClosed(order, Date.now()), c.insertEvent(eventFor(order, 'order.closed'))]), 0)
    assert.deepEqual(await eventsOf(order.id), ['order.closed'])
  })

  it('undoes the earlier changes when a later one changes no row, and names it', async () => {
    const order = await pending('unit-later')
    const c = t.storage.changes
    assert.equal(await t.storage.applyChanges([c.markClosed(order, Date.now())]), null)
    // The event first, then a close of an order closed already: the event must not stand.
    const changes = [c.insertEvent(eventFor(order, 'order.closed')), c.markClosed(order, Date.now())]
    assert.equal(await t.storage.applyChanges(changes), 1)
    assert.deepEqual(await eventsOf(order.id), [])
  })

})
