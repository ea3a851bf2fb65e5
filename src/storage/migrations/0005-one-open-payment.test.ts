// Migration 0005 over a database that already holds duplicate open attempts (the race it closes), on SQLite and,
// when reachable, PostgreSQL: the newest stays open, older ones close, and the index then refuses a second one.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Migrator, type Kysely } from 'kysely'
import pg from 'pg'
import { openDatabase } from '../database.ts'
import type { Database } from '../schema.ts'
import { MIGRATIONS } from './index.ts'

const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

const row = (id: string, createdAt: number, over: Record<string, unknown> = {}) => ({
  id, merchant_id: 'mch_1', order_id: 'ord_1', channel: 'wechatpay', status: 'pending', amount: 100, currency: 'CNY',
  channel_trade_no: null, unexpected: 0, created_at: createdAt, updated_at: createdAt, qr_content: `weixin://${id}`,
  next_check_at: createdAt + 2000, ...over,
})

async function exercise(db: Kysely<Database>, schema?: string) {
  const migrator = (name?: string) =>
    new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS }, ...(schema ? { migrationTableSchema: schema } : {}) }).migrateTo(name ?? '0005-one-open-payment')
  assert.equal((await migrator('0004-channel-payments')).error, undefined)
  await db
    .insertInto('payments')
    .values([
      row('pay_a', 1000),
      row('pay_b', 3000),
      row('pay_c', 2000),
      // Same time as pay_b: the id breaks the tie, so exactly one stays open.
      row('pay_d', 3000),
      row('pay_e', 500, { channel: 'alipay' }),
      row('pay_f', 400, { status: 'failed', next_check_at: null }),
      row('pay_g', 4000, { order_id: 'ord_2' }),
    ])
    .execute()
  const { error } = await migrator()
  assert.equal(error, undefined)
  const rows = await db.selectFrom('payments').select(['id', 'status', 'next_check_at']).orderBy('id').execute()
  assert.deepEqual(
    rows.map((r) => [r.id, r.status, r.next_check_at === null]),
    [
      ['pay_a', 'closed', true],
      ['pay_b', 'closed', true],
      ['pay_c', 'closed', true],
      ['pay_d', 'pending', false],
      ['pay_e', 'pending', false],
      ['pay_f', 'failed', true],
      ['pay_g', 'pending', false],
    ],
  )
  await assert.rejects(db.insertInto('payments').values(row('pay_h', 5000)).execute(), /unique/i)
  // Ended attempts do not count: a new one may open beside them.
  await db.insertInto('payments').values(row('pay_i', 5000, { order_id: 'ord_1', channel: 'alipay', status: 'closed' })).execute()
}

describe('migration 0005: one open attempt per order and channel', () => {
  it('on SQLite', async () => {
    const database = await openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), 'scanpay-m5-')), 'x.db')}`)
    try {
      await exercise(database.db)
    } finally {
      await database.close()
    }
  })

  it('on PostgreSQL', async (t) => {
    if (!(await postgresReachable())) return t.skip(`PostgreSQL unreachable at ${POSTGRES_URL}`)
    const schema = `m5_${randomBytes(6).toString('hex')}`
    const database = await openDatabase(POSTGRES_URL, { pgSchema: schema })
    try {
      await exercise(database.db, schema)
    } finally {
      await database.close()
      const admin = new pg.Client({ connectionString: POSTGRES_URL })
      await admin.connect()
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await admin.end()
    }
  })
})
