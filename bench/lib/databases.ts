// Fresh databases for a benchmark run, merchants made through ScanPay's own code, and fast seeding by direct
// SQL (a million orders through HTTP would take longer than the whole run).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import SQLite from 'better-sqlite3'
import pg from 'pg'
import { newId } from '../../src/core/ids.ts'
import { createMerchant, type NewMerchantCredentials } from '../../src/merchants/create-merchant.ts'
import { SecretBox } from '../../src/security/secret-box.ts'
import { migrate, openDatabase } from '../../src/storage/database.ts'
import { SqlMerchantStore } from '../../src/storage/merchant-store.ts'

export const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface BenchDatabase {
  url: string
  kind: 'sqlite' | 'postgres'
  drop(): Promise<void>
}

const tmpDirs: string[] = []
process.on('exit', () => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true })
})

export function freshSqlite(): BenchDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'scanpay-bench-'))
  tmpDirs.push(dir)
  return { url: `sqlite:${join(dir, 'scanpay.db')}`, kind: 'sqlite', drop: async () => rmSync(dir, { recursive: true, force: true }) }
}

export async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 })
  try {
    await c.connect()
    await c.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await c.end().catch(() => {})
  }
}

/** A new PostgreSQL database on the configured server (separate processes cannot share a test schema option). */
export async function freshPostgres(): Promise<BenchDatabase> {
  const name = `scanpay_bench_${randomBytes(5).toString('hex')}`
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const u = new URL(POSTGRES_URL)
  u.pathname = `/${name}`
  return {
    url: u.toString(),
    kind: 'postgres',
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    },
  }
}

export async function makeMerchants(url: string, masterKey: string, specs: { name: string; webhookUrl: string | null }[]): Promise<NewMerchantCredentials[]> {
  const database = await openDatabase(url)
  try {
    await migrate(database.db)
    const box = new SecretBox(Buffer.from(masterKey, 'base64'))
    const out = []
    for (const s of specs) out.push(await createMerchant(new SqlMerchantStore(database.db), box, s))
    return out
  } finally {
    await database.close()
  }
}

/** Reads a sample of stored orders' ids, out_trade_nos and pay tokens, spread over the table. */
export async function sampleOrders(url: string, merchantId: string, count: number): Promise<{ id: string; outTradeNo: string; token: string }[]> {
  const database = await openDatabase(url)
  try {
    const rows = await database.db
      .selectFrom('orders')
      .select(['id', 'out_trade_no', 'pay_token'])
      .where('merchant_id', '=', merchantId)
      .orderBy('pay_token')
      .limit(count)
      .execute()
    return rows.map((r) => ({ id: r.id, outTradeNo: r.out_trade_no, token: r.pay_token }))
  } finally {
    await database.close()
  }
}

const ORDER_COLUMNS = [
  'id', 'merchant_id', 'mode', 'status', 'out_trade_no', 'amount', 'amount_refunded', 'currency', 'subject',
  'description', 'metadata', 'channels', 'notify_url', 'return_url', 'pay_token', 'channel', 'channel_trade_no',
  'request_hash', 'created_at', 'expires_at', 'paid_at', 'closed_at', 'updated_at',
]

/**
 * Stores `count` orders for the merchant straight into SQLite, spread over the last 30 days, most of them
 * settled (paid or expired) as an old shop's table would be. Returns how long it took.
 */
export function seedSqliteOrders(url: string, merchantId: string, count: number): number {
  const started = performance.now()
  const db = new SQLite(url.slice('sqlite:'.length))
  db.pragma('journal_mode = WAL')
  // Seeding is set-up, not a measured path: one fsync at the end is enough.
  db.pragma('synchronous = OFF')
  const insert = db.prepare(`INSERT INTO orders (${ORDER_COLUMNS.join(', ')}) VALUES (${ORDER_COLUMNS.map(() => '?').join(', ')})`)
  const now = Date.now()
  const span = 30 * 24 * 3600 * 1000
  const hash = randomBytes(32).toString('hex')
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const created = now - span + Math.floor((span * i) / count)
      const paid = i % 3 !== 0
      insert.run(
        newId('ord', created), merchantId, 'test', paid ? 'paid' : 'expired', `seed-${i}`, 100 + (i % 10_000), 0, 'CNY', 'Latte',
        null, '{"table":"7"}', '["sandbox"]', null, null, randomBytes(32).toString('base64url'), paid ? 'sandbox' : null, paid ? `sbx_${i}` : null,
        hash, created, created + 900_000, paid ? created + 30_000 : null, null, created + 30_000,
      )
    }
  })
  for (let i = 0; i < count; i += 50_000) batch(i, Math.min(count, i + 50_000))
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  return (performance.now() - started) / 1000
}

/**
 * Stores `perMerchant` pending events for each merchant, due now, as if their orders had just been paid,
 * so the delivery worker finds a ready backlog when it starts.
 */
export async function seedEvents(db: BenchDatabase, merchants: { id: string; notifyUrl: string }[], perMerchant: number): Promise<void> {
  if (db.kind === 'sqlite') return seedSqliteEvents(db.url, merchants, perMerchant)
  const rows = eventRows(merchants, perMerchant)
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  try {
    // One statement per 5,000 rows, each column sent as an array.
    for (let i = 0; i < rows.length; i += 5_000) {
      const chunk = rows.slice(i, i + 5_000)
      await client.query(
        `INSERT INTO events (merchant_id, id, mode, order_id, type, data, notify_url, created_at, delivery_status, attempt_count, next_attempt_at, locked_until, one_shot)
         SELECT m, e, 'test', o, 'order.paid', d, u, t, 'pending', 0, t, NULL, 0
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS r(m, e, o, d, u, t)`,
        [0, 1, 2, 3, 4, 5].map((c) => chunk.map((r) => r[c])),
      )
    }
  } finally {
    await client.end()
  }
}

/** [merchant_id, id, order_id, data, notify_url, created_at] of pending order.paid events, due now. */
function eventRows(merchants: { id: string; notifyUrl: string }[], perMerchant: number): [string, string, string, string, string, number][] {
  const now = Date.now()
  const rows: [string, string, string, string, string, number][] = []
  for (let i = 0; i < perMerchant; i++) {
    for (const m of merchants) {
      const orderId = newId('ord', now)
      const data = JSON.stringify({ id: orderId, object: 'order', mode: 'test', status: 'paid', out_trade_no: `wh-${i}`, amount: 1234, amount_refunded: 0, currency: 'CNY', subject: 'Latte' })
      rows.push([m.id, newId('evt', now), orderId, data, m.notifyUrl, now])
    }
  }
  return rows
}

function seedSqliteEvents(url: string, merchants: { id: string; notifyUrl: string }[], perMerchant: number): void {
  const db = new SQLite(url.slice('sqlite:'.length))
  db.pragma('journal_mode = WAL')
  const insert = db.prepare(
    `INSERT INTO events (merchant_id, id, mode, order_id, type, data, notify_url, created_at, delivery_status, attempt_count, next_attempt_at, locked_until, one_shot)
     VALUES (?, ?, 'test', ?, 'order.paid', ?, ?, ?, 'pending', 0, ?, NULL, 0)`,
  )
  db.transaction(() => {
    for (const [merchantId, id, orderId, data, notifyUrl, at] of eventRows(merchants, perMerchant)) insert.run(merchantId, id, orderId, data, notifyUrl, at, at)
  })()
  db.close()
}
