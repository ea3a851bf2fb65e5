// Finding an order by its pay token: through the id the token carries, or, for tokens made before tokens
// carried ids, through the partial index of those; the whole token must match either way.
// Finding an order by its id: only in its own mode, and on PostgreSQL through an index that starts at the id.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { postgresAvailable } from '../../test/helpers/databases.ts'
import { openFreshDatabase } from '../../test/helpers/fresh-database.ts'
import { planOfLastQuery } from '../../test/helpers/query-plan.ts'
import { anOrder } from '../../test/helpers/orders.ts'
import { PayTokens } from '../core/pay-tokens.ts'
import { migrate, openDatabase, type OpenDatabase } from './database.ts'
import { SqlOrderStore } from './order-store.ts'

describe('SqlOrderStore.byToken', () => {
  let database: OpenDatabase
  let store: SqlOrderStore
  const tokens = new PayTokens(randomBytes(32))

  before(async () => {
    database = await openDatabase('sqlite::memory:')
    await migrate(database.db)
    store = new SqlOrderStore(database.db, (t) => tokens.orderIdsOf(t))
  })
  after(() => database.close())

  it('finds an order by a token that carries its id, and not by a token with another random part', async () => {
    const order = anOrder('t-1')
    order.payToken = tokens.issue(order.id)
    await store.insertIfAbsent(order)
    assert.equal((await store.byToken(order.payToken))?.id, order.id)
    const forged = tokens.issue(order.id)
    assert.equal(await store.byToken(forged), null)
  })

  it('still finds an order whose token is of the earlier, purely random shape', async () => {
    const order = anOrder('t-2', { payToken: randomBytes(24).toString('base64url') })
    await store.insertIfAbsent(order)
    assert.equal((await store.byToken(order.payToken))?.id, order.id)
    assert.equal(await store.byToken(randomBytes(24).toString('base64url')), null)
  })

  it('after a master-key rotation, finds an order by the token the previous key issued', async () => {
    const oldKey = randomBytes(32)
    const order = anOrder('t-3')
    order.payToken = new PayTokens(oldKey).issue(order.id)
    await store.insertIfAbsent(order)
    const rotated = new PayTokens(randomBytes(32), [oldKey])
    const rotatedStore = new SqlOrderStore(database.db, (t) => rotated.orderIdsOf(t))
    assert.equal((await rotatedStore.byToken(order.payToken))?.id, order.id)
    assert.equal(await rotatedStore.byToken(new PayTokens(oldKey).issue(order.id)), null, 'the whole token must still match')
    // Without the previous key, the old link no longer opens.
    const forgotten = new PayTokens(randomBytes(32))
    assert.equal(await new SqlOrderStore(database.db, (t) => forgotten.orderIdsOf(t)).byToken(order.payToken), null)
  })

  it('reads through the id index or the legacy partial index, never a scan', async () => {
    const plan = async (query: ReturnType<typeof sql>) =>
      (await query.execute(database.db)).rows.map((r) => (r as { detail: string }).detail).join('; ')
    assert.match(await plan(sql`EXPLAIN QUERY PLAN SELECT * FROM orders WHERE pay_token = ${'x'} AND id = ${'y'}`), /orders_id_ix/)
    assert.match(
      await plan(sql`EXPLAIN QUERY PLAN SELECT * FROM orders WHERE pay_token = ${'x'} AND length(pay_token) = 32`),
      /orders_legacy_pay_token_ix/,
    )
  })
})

const postgres = await postgresAvailable()

describe('SqlOrderStore.byId', () => {
  it('finds an order only in its own mode', async () => {
    const database = await openDatabase('sqlite::memory:')
    try {
      await migrate(database.db)
      const store = new SqlOrderStore(database.db)
      const order = anOrder('m-1')
      await store.insertIfAbsent(order)
      assert.equal((await store.byId(order.merchantId, 'test', order.id))?.id, order.id)
      assert.equal(await store.byId(order.merchantId, 'live', order.id), null)
      assert.equal(await store.byId('mch_other', 'test', order.id), null)
    } finally {
      await database.close()
    }
  })

  it('reads by the id on PostgreSQL even before the table was ever analyzed', { skip: !postgres && 'PostgreSQL unreachable' }, async () => {
    const fresh = await openFreshDatabase('postgres')
    try {
      const { db } = fresh.database
      // A fresh deployment's first minutes: thousands of one merchant's orders, no statistics yet.
      await sql`INSERT INTO orders (id, merchant_id, mode, status, out_trade_no, amount, amount_refunded, currency, subject, metadata, channels, pay_token, request_hash, created_at, expires_at, updated_at)
        SELECT 'ord_' || lpad(i::text, 26, '0'), 'mch_x', 'test', 'pending', 'o-' || i, 100, 0, 'CNY', 'Latte', '{}', '[]', md5(i::text), md5(i::text), i, i + 900000, i
        FROM generate_series(1, 20000) AS i`.execute(db)
      let order: Awaited<ReturnType<SqlOrderStore['byId']>> = null
      const plan = await planOfLastQuery(db, async (caught) => (order = await new SqlOrderStore(caught).byId('mch_x', 'test', `ord_${'2500'.padStart(26, '0')}`)))
      assert.equal(order!.outTradeNo, 'o-2500')
      // Either index that starts from the id finds one row; the list index (merchant_id, mode, created_at, id)
      // would walk all 20,000 of the merchant's orders.
      assert.match(plan, /Index Scan using orders_(pk|id_ix) /)
    } finally {
      await fresh.close()
    }
  })
})
