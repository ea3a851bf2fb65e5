// Listing an order's events: newest first, only in the key's mode, a page at a time; and on PostgreSQL read
// through the order's index even on a table that was never analyzed.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { sql } from 'kysely'
import { postgresAvailable } from '../../test/helpers/databases.ts'
import { describeEachStorage, openFreshDatabase } from '../../test/helpers/fresh-database.ts'
import { planOfLastQuery } from '../../test/helpers/query-plan.ts'
import { SqlEventStore } from './event-store.ts'

const postgres = await postgresAvailable()

describeEachStorage('SqlEventStore.list by order, and redelivery', (t) => {
  it('lists one order\'s events newest first, in the key\'s mode only, a page at a time', async () => {
    const event = (id: string, orderId: string, at: number, mode: 'test' | 'live' = 'test') =>
      ({ merchant_id: 'mch_e', id, mode, order_id: orderId, type: 'order.paid', data: '{}', notify_url: null, created_at: at, delivery_status: 'delivered', attempt_count: 1, next_attempt_at: null, locked_until: null, one_shot: 0 })
    await t.database.db
      .insertInto('events')
      .values([event('evt_a1', 'ord_a', 1), event('evt_a2', 'ord_a', 2), event('evt_a3', 'ord_a', 3), event('evt_b1', 'ord_b', 4), event('evt_a4', 'ord_a', 5, 'live')])
      .execute()
    const list = (limit: number, before?: { createdAt: number; id: string }) =>
      t.storage.events.list({ merchantId: 'mch_e', mode: 'test', orderId: 'ord_a', limit, before }).then((rows) => rows.map((e) => e.id))
    assert.deepEqual(await list(10), ['evt_a3', 'evt_a2', 'evt_a1'])
    assert.deepEqual(await list(2), ['evt_a3', 'evt_a2'])
    assert.deepEqual(await list(2, { createdAt: 2, id: 'evt_a2' }), ['evt_a1'])
    assert.deepEqual((await t.storage.events.list({ merchantId: 'mch_e', mode: 'test', limit: 10 })).map((e) => e.id), ['evt_b1', 'evt_a3', 'evt_a2', 'evt_a1'])
  })

  it('a redelivery of a finished event is one more attempt however often it is asked for; a pending event keeps its schedule', async () => {
    const row = (id: string, status: 'delivered' | 'pending') =>
      ({ merchant_id: 'mch_r', id, mode: 'test' as const, order_id: 'ord_r', type: 'order.paid', data: '{}', notify_url: null, created_at: 1, delivery_status: status, attempt_count: 1, next_attempt_at: status === 'pending' ? 99 : null, locked_until: null, one_shot: 0 })
    await t.database.db.insertInto('events').values([row('evt_done', 'delivered'), row('evt_retrying', 'pending')]).execute()
    const state = (id: string) => t.database.db.selectFrom('events').select(['delivery_status', 'one_shot', 'next_attempt_at']).where('id', '=', id).executeTakeFirstOrThrow()
    for (let i = 0; i < 2; i++) await t.storage.events.requestRedelivery('mch_r', 'evt_done', 50)
    const done = await state('evt_done')
    assert.deepEqual([done.delivery_status, Number(done.one_shot), Number(done.next_attempt_at)], ['pending', 1, 50])
    await t.storage.events.requestRedelivery('mch_r', 'evt_retrying', 50)
    const retrying = await state('evt_retrying')
    assert.deepEqual([retrying.delivery_status, Number(retrying.one_shot), Number(retrying.next_attempt_at)], ['pending', 0, 50])
  })
})

it('lists an order\'s events through the order\'s index on PostgreSQL, even before the table was ever analyzed', { skip: !postgres && 'PostgreSQL unreachable' }, async () => {
  const fresh = await openFreshDatabase('postgres')
  try {
    const { db } = fresh.database
    // 40,000 events of one merchant, two an order, no statistics yet.
    await sql`INSERT INTO events (merchant_id, id, mode, order_id, type, data, notify_url, created_at, delivery_status, attempt_count, next_attempt_at, locked_until, one_shot)
      SELECT 'mch_x', 'evt_' || lpad(i::text, 26, '0'), 'test', 'ord_' || lpad((i / 2)::text, 26, '0'), 'order.paid', '{}', NULL, i, 'delivered', 1, NULL, NULL, 0
      FROM generate_series(1, 40000) AS i`.execute(db)
    let ids: string[] = []
    const plan = await planOfLastQuery(db, async (caught) => {
      ids = (await new SqlEventStore(caught).list({ merchantId: 'mch_x', mode: 'test', orderId: `ord_${'100'.padStart(26, '0')}`, limit: 11 })).map((e) => e.id)
    })
    assert.deepEqual(ids, [`evt_${'201'.padStart(26, '0')}`, `evt_${'200'.padStart(26, '0')}`])
    // The list index (merchant_id, mode, created_at, id), walked newest first, would read all 40,000.
    assert.match(plan, /Index Scan using events_order_ix/)
    assert.doesNotMatch(plan, /events_list_ix/)
  } finally {
    await fresh.close()
  }
})
