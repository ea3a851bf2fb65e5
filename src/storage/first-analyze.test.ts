// On PostgreSQL a table's first thousand rows get it analyzed without waiting for autovacuum, and the plans
// that guessed without statistics then read the right index.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { dropSchema, freshDatabase, postgresAvailable } from '../../test/helpers/databases.ts'
import { planOfLastQuery } from '../../test/helpers/query-plan.ts'
import { migrate, openDatabase } from './database.ts'
import { FirstAnalyze } from './first-analyze.ts'
import { SqlOrderStore } from './order-store.ts'
import type { Database } from './schema.ts'

const postgres = await postgresAvailable()

/** Makes this connection's counts of written rows visible in pg_stat_user_tables now, not within seconds. */
async function flushStatistics(db: Kysely<Database>): Promise<void> {
  await sql`SELECT pg_stat_force_next_flush()`.execute(db)
  await sql`SELECT 1`.execute(db)
}

it('analyzes a never-analyzed table once it has a thousand rows, and the look-up by out_trade_no then reads its unique index', { skip: !postgres && 'PostgreSQL unreachable' }, async () => {
  const target = freshDatabase('postgres')
  // One connection: the statistics it flushes are those of the rows it wrote.
  const database = await openDatabase(target.url, { pgSchema: target.pgSchema, poolSize: 1 })
  try {
    const { db } = database
    await migrate(db)
    const firstAnalyze = new FirstAnalyze(db)
    const orders = (n: number, from: number) =>
      sql`INSERT INTO orders (id, merchant_id, mode, status, out_trade_no, amount, amount_refunded, currency, subject, metadata, channels, pay_token, request_hash, created_at, expires_at, updated_at)
        SELECT 'ord_' || lpad(i::text, 26, '0'), 'mch_x', 'test', 'pending', 'o-' || i, 100, 0, 'CNY', 'Latte', '{}', '[]', md5(i::text), md5(i::text), i, i + 900000, i
        FROM generate_series(${from}::int, ${from + n - 1}::int) AS i`.execute(db)
    await orders(999, 1)
    await flushStatistics(db)
    assert.deepEqual(await firstAnalyze.run(), [], 'below the bar: left to autovacuum')

    await orders(39_001, 1000)
    await flushStatistics(db)
    const byOutTradeNo = () => planOfLastQuery(db, (caught) => new SqlOrderStore(caught).byOutTradeNo('mch_x', 'test', 'o-2500'))
    // Without statistics PostgreSQL may take a list index of the merchant's orders and walk it.
    const guessed = await byOutTradeNo()
    assert.deepEqual(await firstAnalyze.run(), ['orders'])
    assert.match(await byOutTradeNo(), /orders_out_trade_no_uq/, `before: ${guessed}`)
    assert.deepEqual(await firstAnalyze.run(), [], 'analyzed once')
  } finally {
    await database.close()
    await dropSchema(target)
  }
})
